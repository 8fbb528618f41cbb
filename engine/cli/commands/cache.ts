import path from 'node:path';
import { UserError } from '../../diagnostic.js';
import { formatBytes } from '../../report/format.js';
import { LocalCache } from '../../../cache/local/store.js';
import { parseSize } from '../../../cache/local/maintenance.js';
import { parseCommand, resolveCacheDir } from '../args.js';

const USAGE = `usage: kiln cache <stats|verify|gc|serve> [options]

  stats                 entries, blobs and bytes in the local cache
  verify                rehash every blob, check every entry; removes corrupt
                        blobs and entries that can no longer be restored
  gc --max-size SIZE    evict least recently used entries until the cache
                        fits in SIZE (e.g. 500M, 10G)
  serve                 run a remote cache server (Bazel HTTP cache protocol
                        and Turborepo remote cache API) until SIGINT/SIGTERM
    --listen HOST:PORT  address to listen on (default: 127.0.0.1:9090)
    --dir DIR           storage (default: <cache-dir>/server)
    --max-size SIZE     evict least recently used artifacts above SIZE (default: 10G)
    --max-body SIZE     refuse larger uploads with 413 (default: 1G)
                        tokens, from the environment only (argv shows in ps):
                        KILN_SERVE_TOKENS=tok1,tok2 (read-write),
                        KILN_SERVE_READONLY_TOKENS=tok3 (read-only);
                        with neither set, anyone may read and write
  --cache-dir DIR       cache location (default: $KILN_CACHE_DIR or ~/.cache/kiln)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'cache',
    argv,
    { 'max-size': { type: 'string' }, listen: { type: 'string' }, dir: { type: 'string' }, 'max-body': { type: 'string' } },
    USAGE,
  );
  const [sub, ...extra] = positionals;
  if (!sub || extra.length > 0 || !['stats', 'verify', 'gc', 'serve'].includes(sub)) {
    throw new UserError([{ message: `cache: expected one of stats, verify, gc, serve${sub ? `, got '${positionals.join(' ')}'` : ''}`, hint: "run 'kiln cache --help'" }]);
  }
  const cacheDir = resolveCacheDir(values);
  if (sub === 'serve') return serve(values, cacheDir);
  let maxBytes: number | undefined;
  if (sub === 'gc') {
    maxBytes = values['max-size'] === undefined ? undefined : parseSize(values['max-size']);
    if (maxBytes === undefined) {
      throw new UserError([{ message: `cache gc: --max-size SIZE is required (e.g. 500M, 10G)${values['max-size'] ? `, got '${values['max-size']}'` : ''}` }]);
    }
  }
  const cache = LocalCache.open(cacheDir);
  try {
    if (sub === 'stats') {
      const s = cache.stats();
      process.stdout.write(
        `cache: ${cacheDir}\nentries: ${s.entries}\nblobs: ${s.blobs}\nbytes: ${s.blobBytes} (${formatBytes(s.blobBytes)})\ntemp files: ${s.tmpFiles}\n`,
      );
      return 0;
    }
    if (sub === 'verify') {
      const r = await cache.verify();
      process.stdout.write(
        `checked ${r.blobsChecked} blobs and ${r.entriesChecked} entries in ${cacheDir}\n` +
          `corrupt blobs removed: ${r.corruptBlobs.length}\nbroken entries removed: ${r.brokenEntries.length}\n` +
          `stale temp files removed: ${r.staleTempFiles}\n`,
      );
      for (const d of r.corruptBlobs) process.stdout.write(`corrupt blob ${d}\n`);
      for (const k of r.brokenEntries) process.stdout.write(`broken entry ${k}\n`);
      return r.corruptBlobs.length + r.brokenEntries.length > 0 ? 1 : 0;
    }
    const r = cache.gc({ maxBytes: maxBytes! });
    process.stdout.write(
      `evicted ${r.entriesEvicted} entries, deleted ${r.blobsDeleted} blobs, freed ${formatBytes(r.bytesFreed)}; cache is now ${formatBytes(r.bytesAfter)}\n`,
    );
    return 0;
  } finally {
    cache.close();
  }
}

/** Runs the server until SIGINT/SIGTERM. The server modules load only here: they cost every other kiln command nothing. */
async function serve(values: { listen?: string; dir?: string; 'max-size'?: string; 'max-body'?: string }, cacheDir: string): Promise<number> {
  const { parseListen, tokensFromEnv } = await import('../../../cache/server/config.js');
  const listen = parseListen(values.listen ?? '127.0.0.1:9090');
  if (!listen) throw new UserError([{ message: `cache serve: --listen expects HOST:PORT (e.g. 127.0.0.1:9090, [::1]:9090), got '${values.listen}'` }]);
  const size = (name: 'max-size' | 'max-body', fallback: string): number => {
    const bytes = parseSize(values[name] ?? fallback);
    if (bytes === undefined || bytes < 1) throw new UserError([{ message: `cache serve: --${name} expects a size (e.g. 500M, 10G), got '${values[name]}'` }]);
    return bytes;
  };
  const maxBytes = size('max-size', '10G');
  const maxBodyBytes = size('max-body', '1G');
  if (maxBodyBytes > maxBytes) {
    throw new UserError([{ message: `cache serve: --max-body (${values['max-body'] ?? '1G'}) exceeds --max-size (${values['max-size'] ?? '10G'})`, hint: 'an upload larger than the whole cache could never be kept' }]);
  }
  const tokens = tokensFromEnv(process.env);
  if (tokens.readWrite.length + tokens.readOnly.length === 0) {
    process.stderr.write('kiln cache serve: warning: no token configured (KILN_SERVE_TOKENS, KILN_SERVE_READONLY_TOKENS): anyone who can reach this address can read and write the cache\n');
  }
  // Listening before the server starts: a signal that arrives during start-up still shuts it down cleanly.
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    // Removed at the first signal, so a second one kills at once (default action) if shutdown hangs.
    const stop = (s: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(s);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const { startServer } = await import('../../../cache/server/server.js');
  const server = await startServer({
    dir: values.dir ? path.resolve(values.dir) : path.join(cacheDir, 'server'),
    ...listen,
    maxBytes,
    maxBodyBytes,
    tokens,
  }).catch((err: NodeJS.ErrnoException) => {
    if (!['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES'].includes(err.code ?? '')) throw err;
    throw new UserError([{ message: `cache serve: cannot listen on ${values.listen ?? '127.0.0.1:9090'}: ${err.code}`, hint: 'pick another --listen address or port' }]);
  });
  process.stdout.write(`kiln cache serve: listening on ${server.url}\n`);
  process.stderr.write(`kiln cache serve: ${await signal}, finishing requests in flight\n`);
  await server.close();
  return 0;
}
