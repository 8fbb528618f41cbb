import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

/** The body went past the limit: answer 413, store nothing. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/**
 * The request body as a stream that fails with BodyTooLarge as soon as more
 * than `limit` bytes have arrived, and with the connection's error if the
 * client goes away mid-body. `onBytes` sees every chunk received, kept or not.
 *
 * Iterated with destroyOnReturn false: on a failure here the request must
 * stay open so the 413 can still be written on its socket (see linger).
 */
export function limitedBody(req: IncomingMessage, limit: number, onBytes: (n: number) => void): Readable {
  return Readable.from(
    (async function* () {
      let received = 0;
      for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        received += chunk.length;
        onBytes(chunk.length);
        if (received > limit) throw new BodyTooLarge(limit);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}

/** How long a refused upload may keep sending before its connection is cut. */
const LINGER_MS = 2_000;

/**
 * Called once a response is sent while the client may still be sending its
 * body (an early 413/401/403, or a 413 mid-stream). Closing at once would
 * make the kernel answer the unread bytes with a reset, which can destroy
 * the response before the client reads it; so, like nginx's lingering
 * close, read and discard the rest for a short while, then cut. A body that
 * ends in time leaves the connection usable for the next request.
 */
export function linger(req: IncomingMessage): void {
  if (req.complete) return;
  const cut = setTimeout(() => req.socket.destroy(), LINGER_MS).unref();
  req.once('end', () => clearTimeout(cut));
  req.once('close', () => clearTimeout(cut));
  req.resume();
}
