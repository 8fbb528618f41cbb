import { sha256Hex } from '../../engine/keys/hash/sha256.js';
import os from 'node:os';
import path from 'node:path';

/**
 * Where kiln keeps its bare mirror of `url`: one per URL string, shared by
 * every workspace using the same cache dir. Other rules (patches) use it to
 * search upstream history.
 */
export function mirrorPath(cacheDir: string, url: string): string {
  const id = sha256Hex(url).slice(0, 16);
  return path.join(cacheDir, 'git', `${id}.git`);
}

/**
 * The URL git is given: URLs (`scheme://`, scp-like `host:path`) as
 * written, local paths made absolute against the node dir, so that a
 * relative `url: ../nova` means the same repository wherever kiln runs.
 */
export function effectiveUrl(url: string, nodeDir: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return url;
  const colon = url.indexOf(':');
  const slash = url.indexOf('/');
  if (colon > 0 && (slash === -1 || colon < slash)) return url; // host:path (ssh)
  return path.resolve(nodeDir, expandHome(url));
}

/** `~` and `~/x` as the shell would expand them (it does not after `NODE=`). */
export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** What a `ref` may look like: no option-like leading '-', none of the characters git forbids in ref names (and `:`, a refspec separator). */
export function isRefLike(ref: string): boolean {
  return ref !== '' && !ref.startsWith('-') && !/[\s~^:?*[\\\x00-\x1f\x7f]/.test(ref);
}
