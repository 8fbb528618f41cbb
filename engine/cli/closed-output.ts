/**
 * When whoever reads kiln's output goes away (`kiln build | head`), the next
 * write fails with EPIPE, which Node raises as an error event on the
 * stream: unhandled, kiln died with a stack trace and left its commands
 * running. kiln treats it as a shell treats SIGPIPE: it stops, with exit
 * status 141 (128 + 13). A command with work in flight (a build) says how to
 * stop it cleanly; any other exits at once. A stream that fails otherwise
 * (EIO, a full disk behind a redirect) stops kiln the same way, with 74
 * (EX_IOERR).
 */

const EXIT_PIPE = 141;
const EXIT_IO = 74;

/**
 * The stop handler lives on globalThis under a registered symbol, not in a
 * module variable: the CLI's entry and its commands are separate bundles,
 * each with its own copy of this module.
 */
const STOP = Symbol.for('kiln.output-closed.stop');
const shared = globalThis as { [STOP]?: (exitCode: number) => void };
let closed = false;

/** Listens for errors on kiln's output streams; called once, at start. */
export function watchOutput(streams: NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      // Every later write fails too: the first failure decides.
      if (closed) return;
      closed = true;
      const exitCode = e.code === 'EPIPE' ? EXIT_PIPE : EXIT_IO;
      // Also when the work is done and only its last lines were left to write: they were lost all the same.
      process.exitCode = exitCode;
      const stop = shared[STOP];
      if (stop) stop(exitCode);
      else process.exit(exitCode);
    });
  }
}

/** How to stop the work in flight (a build) when the output goes away, instead of exiting at once. */
export function onOutputClosed(handler: (exitCode: number) => void): void {
  shared[STOP] = handler;
}
