import type { RemoteDecl } from '../../engine/buildfile/types.js';
import type { Diagnostic } from '../../engine/diagnostic.js';
import { BazelHttpCache } from './bazel-http.js';
import { HttpClient } from './http.js';
import type { RemoteCache } from './remote.js';
import { TurboCache } from './turbo.js';

const DEFAULT_TIMEOUT_S = 30;
/** Until a remote starts answering a download or a lookup: a hung server costs a build this much, once. */
const DEFAULT_RESPONSE_TIMEOUT_S = 5;
const MAX_ARTIFACT_BYTES = 4 * 1024 ** 3;

export interface RemoteFlags {
  /** --remote-cache URL */
  url?: string;
  /** --remote-read-only */
  readOnly?: boolean;
}

export interface RemoteSetup {
  cache: RemoteCache;
  readOnly: boolean;
}

/**
 * The remote cache for a build, from (lowest to highest precedence) the root
 * build file's `remote:`, KILN_REMOTE_* env vars, then flags. Tokens come
 * only from the environment: KILN_REMOTE_TOKEN, or the variable `tokenEnv`
 * names.
 */
export function configureRemote(
  decl: RemoteDecl | undefined,
  env: NodeJS.ProcessEnv,
  flags: RemoteFlags,
): { setup?: RemoteSetup } | { error: Diagnostic } {
  const url = flags.url ?? env.KILN_REMOTE_CACHE ?? decl?.url;
  if (!url) return {};
  const where = flags.url ? '--remote-cache' : env.KILN_REMOTE_CACHE ? 'KILN_REMOTE_CACHE' : 'remote.url';
  if (!/^https?:\/\/[^/@]+(\/|$)/.test(url)) {
    return { error: { message: `${where}: '${redact(url)}' is not an http(s) URL without credentials`, hint: 'put a token in KILN_REMOTE_TOKEN' } };
  }
  const protocol = env.KILN_REMOTE_PROTOCOL ?? decl?.protocol ?? 'bazel';
  if (protocol !== 'bazel' && protocol !== 'turbo') {
    return { error: { message: `KILN_REMOTE_PROTOCOL: unknown protocol '${protocol}'`, hint: 'one of: bazel, turbo' } };
  }
  const token = env[decl?.tokenEnv ?? 'KILN_REMOTE_TOKEN'] ?? env.KILN_REMOTE_TOKEN;
  const readOnly = Boolean(flags.readOnly) || /^(1|true|yes)$/i.test(env.KILN_REMOTE_READ_ONLY ?? '') || Boolean(decl?.readOnly);
  const timeoutMs = 1000 * (Number(env.KILN_REMOTE_TIMEOUT) || decl?.timeoutSeconds || DEFAULT_TIMEOUT_S);
  const responseTimeoutMs = 1000 * (Number(env.KILN_REMOTE_RESPONSE_TIMEOUT) || DEFAULT_RESPONSE_TIMEOUT_S);
  const http = new HttpClient({ baseUrl: url, timeoutMs, responseTimeoutMs, ...(token ? { token } : {}) });
  if (protocol === 'bazel') return { setup: { cache: new BazelHttpCache(http), readOnly } };
  const team = env.KILN_REMOTE_TEAM ?? decl?.team;
  if (!team) return { error: { message: 'a turbo remote needs a team', hint: 'set remote.team in kiln.yaml or KILN_REMOTE_TEAM' } };
  const signingKey = env[decl?.signingKeyEnv ?? 'KILN_REMOTE_SIGNING_KEY'];
  return {
    setup: {
      cache: new TurboCache(http, { team, maxArtifactBytes: MAX_ARTIFACT_BYTES, ...(signingKey ? { signingKey } : {}) }),
      readOnly,
    },
  };
}

/** A URL with any user:password part replaced, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}
