import { codeStamp, exchange, readDaemonInfo, type BuildRequest } from './protocol.js';

/** A daemon that is proving a large workspace may take a while; past this a client builds itself. */
const ANSWER_TIMEOUT_MS = 15_000;
const NOTICE_TIMEOUT_MS = 2_000;

/**
 * Asks the workspace's daemon, if one runs, to answer a build. Returns the
 * exit code when it did (its output already printed), undefined when there
 * is no daemon or it declined: the caller then builds as usual.
 */
export async function buildViaDaemon(
  root: string,
  request: Omit<BuildRequest, 'kind' | 'code'>,
): Promise<number | undefined> {
  const info = readDaemonInfo(root);
  if (!info) return undefined;
  const response = await exchange(info.socket, { kind: 'build', code: codeStamp(), ...request }, ANSWER_TIMEOUT_MS);
  if (response?.kind !== 'answer') {
    if (process.env.KILN_DAEMON_DEBUG) process.stderr.write(`kiln: daemon declined: ${response?.kind === 'declined' ? response.reason : 'no answer'}\n`);
    return undefined;
  }
  process.stdout.write(response.stdout);
  return response.exitCode;
}

/** Tells the workspace's daemon (if any) that a build changed things, so it proves them again. */
export async function notifyDaemon(root: string, env: NodeJS.ProcessEnv): Promise<void> {
  const info = readDaemonInfo(root);
  if (info) await exchange(info.socket, { kind: 'rebuilt', code: codeStamp(), env }, NOTICE_TIMEOUT_MS);
}
