import { codeStamp, exchange, readDaemonInfo, type BuildRequest } from './protocol.js';

/** A daemon that is proving a large workspace may take a while; past this a client builds itself. */
const ANSWER_TIMEOUT_MS = 15_000;
const NOTICE_TIMEOUT_MS = 2_000;

/**
 * Asks the workspace's daemon, if one runs, to answer a build (from memory,
 * or by running it). Returns the exit code when it did (its output already
 * printed). Otherwise the caller builds as usual, with the nodes the daemon
 * still vouches for, if any.
 */
export async function buildViaDaemon(
  root: string,
  request: Omit<BuildRequest, 'kind' | 'code'>,
): Promise<{ exitCode: number } | { vouched?: Map<string, string> }> {
  const info = readDaemonInfo(root);
  if (!info) return {};
  let streamed = false;
  const response = await exchange(info.socket, { kind: 'build', code: codeStamp(), ...request }, ANSWER_TIMEOUT_MS, (text) => {
    streamed = true;
    process.stdout.write(text);
  });
  if (response?.kind === 'answer') {
    process.stdout.write(response.stdout);
    return { exitCode: response.exitCode };
  }
  // Lost mid-build (not declined). Finished work is recorded by the daemon as it goes: building here redoes only the rest.
  if (streamed && response === undefined) process.stderr.write('kiln: the daemon stopped during the build; building here\n');
  if (process.env.KILN_DAEMON_DEBUG) {
    const why = response?.kind === 'declined' ? `${response.reason}; vouched for ${Object.keys(response.vouched ?? {}).length} nodes` : 'no answer';
    process.stderr.write(`kiln: daemon declined: ${why}\n`);
  }
  return response?.kind === 'declined' && response.vouched ? { vouched: new Map(Object.entries(response.vouched)) } : {};
}

/** Tells the workspace's daemon (if any) that a build changed things, so it proves them again. */
export async function notifyDaemon(root: string, env: NodeJS.ProcessEnv): Promise<void> {
  const info = readDaemonInfo(root);
  if (info) await exchange(info.socket, { kind: 'rebuilt', code: codeStamp(), env }, NOTICE_TIMEOUT_MS);
}
