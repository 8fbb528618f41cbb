import { isMap } from './yaml/tree.js';
import type { Entry, SourceFile } from './source.js';
import type { CobuildDecl } from './types.js';
import { textValue } from './values.js';

const COBUILD_KEYS = ['redis'];

/**
 * The root file's `cobuild:` block: the Redis that agents of one CI run
 * share (`kiln build --cobuild ID`). A password never lives in a build file:
 * a URL that carries one belongs in KILN_REDIS_URL.
 */
export function readCobuild(file: SourceFile, e: Entry): CobuildDecl | undefined {
  if (!e.value || !isMap(e.value)) {
    file.report(e.at, 'expected a mapping with redis', 'e.g. `cobuild: {redis: "redis://ci-redis:6379"}`');
    return undefined;
  }
  let redis: string | undefined;
  let ok = true;
  for (const f of file.uniqueEntries(e.value)) {
    if (!COBUILD_KEYS.includes(f.key)) {
      file.unknownKey(f, 'cobuild', COBUILD_KEYS);
      ok = false;
      continue;
    }
    const text = textValue(file, f.value, f.at, 'a redis:// URL');
    if (text === undefined) ok = false;
    else if (!/^rediss?:\/\/[^/]/.test(text)) {
      file.report(f.at, `cobuild redis '${text}' is not a redis:// or rediss:// URL`);
      ok = false;
    } else if (/^rediss?:\/\/[^/]*@/.test(text)) {
      file.report(f.at, 'cobuild redis URL must not contain credentials', 'give the URL with its password in KILN_REDIS_URL instead');
      ok = false;
    } else redis = text;
  }
  if (ok && redis === undefined) {
    file.report(e.keyNode, 'cobuild needs redis');
    return undefined;
  }
  return ok ? { redis: redis!, pos: file.pos(e.keyNode) } : undefined;
}
