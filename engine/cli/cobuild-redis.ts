import { UserError } from '../diagnostic.js';

/**
 * The Redis of a cobuild, for `kiln build --cobuild` and `kiln trace
 * --cobuild` alike: --redis, else KILN_REDIS_URL, else the root build
 * file's `cobuild: {redis: URL}` (asked last: trace loads the workspace only
 * for it). A build file's URL was checked where it is written.
 */
export async function cobuildRedis(command: string, flag: string | undefined, fromBuildFile: () => Promise<string | undefined>): Promise<string> {
  const given = flag ?? (process.env.KILN_REDIS_URL || undefined);
  if (given !== undefined && !/^rediss?:\/\//.test(given)) {
    throw new UserError([{ message: `${command}: ${flag !== undefined ? '--redis' : 'KILN_REDIS_URL'} expects a redis:// or rediss:// URL` }]);
  }
  const redis = given ?? (await fromBuildFile());
  if (!redis) throw new UserError([{ message: `${command}: --cobuild needs Redis: --redis URL, KILN_REDIS_URL or cobuild: {redis: URL} in kiln.yaml`, hint: 'e.g. redis://127.0.0.1:6379' }]);
  return redis;
}
