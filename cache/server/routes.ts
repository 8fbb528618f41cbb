/**
 * Request path → what it addresses. Pure parsing: no I/O, no auth. Every key
 * and namespace segment that comes out of here is plain ASCII alphanumerics
 * (plus `_.-` inside team names, never leading), so none of them can name a
 * path outside the store.
 */

/** A stored artifact: `kind` is also its metrics label. */
export interface BlobRoute {
  type: 'blob';
  kind: 'ac' | 'cas' | 'turbo';
  /** Directory-like: `ac`, `cas`, `turbo/team/<id>`, `turbo/slug/<slug>`. */
  namespace: string;
  key: string;
  /** CAS: the body's sha256 must equal the key. */
  verifyDigest: boolean;
}

export type Route =
  | BlobRoute
  | { type: 'metrics' }
  | { type: 'turbo-status' }
  | { type: 'turbo-events' }
  | { type: 'error'; status: 400 | 404; message: string };

/** Methods each route type answers; anything else is 405. */
export const METHODS: Record<Exclude<Route['type'], 'error'>, readonly string[]> = {
  blob: ['GET', 'HEAD', 'PUT'],
  metrics: ['GET'],
  'turbo-status': ['GET'],
  'turbo-events': ['POST'],
};

export const HEALTH_PATH = '/healthz';

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** turbo's hashes are hex; accept any short alphanumeric, as turborepo-remote-cache does. */
const TURBO_HASH = /^[a-zA-Z0-9]{1,128}$/;
/** Vercel team ids (`team_…`) and slugs; no leading dot, so never `.` or `..`. */
const TEAM = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

const notFound = (): Route => ({ type: 'error', status: 404, message: 'no such route' });
const bad = (message: string): Route => ({ type: 'error', status: 400, message });

/** `rawUrl` is `req.url`: path plus optional query, as the client sent it. */
export function parseRoute(rawUrl: string): Route {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
  if (path === '/metrics') return { type: 'metrics' };

  const bazel = /^\/(ac|cas)\/([^/]*)$/.exec(path);
  if (bazel) {
    const kind = bazel[1] as 'ac' | 'cas';
    const key = bazel[2]!;
    if (!SHA256_HEX.test(key)) return bad(`${kind} key must be 64 lowercase hex digits (sha256)`);
    return { type: 'blob', kind, namespace: kind, key, verifyDigest: kind === 'cas' };
  }

  const turbo = /^\/v8\/artifacts\/([^/]*)$/.exec(path);
  if (turbo) {
    const hash = turbo[1]!;
    // Reserved names: a turbo hash is hex, so it never collides with these.
    if (hash === 'status') return { type: 'turbo-status' };
    if (hash === 'events') return { type: 'turbo-events' };
    if (!TURBO_HASH.test(hash)) return bad('artifact hash must be 1-128 ASCII letters or digits');
    const team = teamNamespace(query);
    if (typeof team !== 'string') return team;
    return { type: 'blob', kind: 'turbo', namespace: team, key: hash, verifyDigest: false };
  }
  return notFound();
}

/** teamId wins over slug (turbo sends one); the two never share a namespace. */
function teamNamespace(query: URLSearchParams): string | Route {
  const [by, value] = query.has('teamId') ? ['team', query.get('teamId')!] : ['slug', query.get('slug')];
  if (value === null) return bad('teamId or slug query parameter is required');
  if (!TEAM.test(value)) return bad(`${by === 'team' ? 'teamId' : 'slug'} must be 1-100 of A-Z a-z 0-9 _ . - (not leading . _ -)`);
  return `turbo/${by}/${value}`;
}
