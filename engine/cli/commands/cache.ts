import { UserError } from '../../diagnostic.js';
import { LocalCache } from '../../../cache/local/store.js';
import { parseSize } from '../../../cache/local/maintenance.js';
import { parseCommand, resolveCacheDir } from '../args.js';

const USAGE = `usage: kiln cache <stats|verify|gc> [options]

  stats                 entries, blobs and bytes in the local cache
  verify                rehash every blob, check every entry; removes corrupt
                        blobs and entries that can no longer be restored
  gc --max-size SIZE    evict least recently used entries until the cache
                        fits in SIZE (e.g. 500M, 10G)
  --cache-dir DIR       cache location (default: $KILN_CACHE_DIR or ~/.cache/kiln)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('cache', argv, { 'max-size': { type: 'string' } }, USAGE);
  const [sub, ...extra] = positionals;
  if (!sub || extra.length > 0 || !['stats', 'verify', 'gc'].includes(sub)) {
    throw new UserError([{ message: `cache: expected one of stats, verify, gc${sub ? `, got '${positionals.join(' ')}'` : ''}`, hint: "run 'kiln cache --help'" }]);
  }
  const cacheDir = resolveCacheDir(values);
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
        `cache: ${cacheDir}\nentries: ${s.entries}\nblobs: ${s.blobs}\nbytes: ${s.blobBytes} (${human(s.blobBytes)})\ntemp files: ${s.tmpFiles}\n`,
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
      `evicted ${r.entriesEvicted} entries, deleted ${r.blobsDeleted} blobs, freed ${human(r.bytesFreed)}; cache is now ${human(r.bytesAfter)}\n`,
    );
    return 0;
  } finally {
    cache.close();
  }
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
