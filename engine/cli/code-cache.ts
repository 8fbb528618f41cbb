import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/**
 * Loads a CommonJS file (the CLI's commands bundle) through a V8 code cache:
 * the bytecode of the functions a run compiled is saved when the process
 * exits and handed back to V8 the next time, so a fresh process skips most
 * of parsing and compiling ~550 KB of JavaScript (0.85x the wall time of a
 * 100-package no-op build). Node 22 does this itself (module.enableCompileCache);
 * kiln runs on Node 20.
 *
 * Where: $KILN_CODE_CACHE, else <XDG cache dir>/kiln-code; KILN_CODE_CACHE=0
 * turns it off. A cache directory that another user owns or may write to is
 * not used: bytecode is code. V8 itself refuses a cache made from other
 * source, by another V8 or with other flags (then it is written anew), and
 * the file name carries the install's path (hashed), the file's size and
 * mtime, so a rebuilt bundle never meets its predecessor's cache.
 */
export function requireWithCodeCache(file: string): unknown {
  const dir = codeCacheDir(process.env);
  const stat = dir ? fs.statSync(file, { throwIfNoEntry: false }) : undefined;
  if (!dir || !stat) return createRequire(import.meta.url)(file);
  const stem = installStem(file);
  const cacheFile = path.join(dir, `${stem}-${stat.size}-${Math.round(stat.mtimeMs)}-${process.version}-${process.arch}.v8`);
  const source = fs.readFileSync(file, 'utf8');
  const cachedData = readIfPresent(cacheFile);
  // The wrapper node puts around every CommonJS module.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  if (!cachedData || script.cachedDataRejected) process.once('exit', () => writeAtomically(cacheFile, script.createCachedData(), stem));
  const module = { exports: {} as unknown, filename: file, id: file, loaded: false };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, path.dirname(file));
  module.loaded = true;
  return module.exports;
}

/**
 * The start of a bundle's cache file name: its name and a hash of where it
 * is installed. Each kiln install on the machine (one per project that has
 * it in node_modules) keeps a cache of its own: a new cache replaces only
 * the earlier ones of the same install, so two projects built in turn never
 * delete each other's and compile afresh on every run.
 */
function installStem(file: string): string {
  // FNV-1a: any spread of install paths will do, and node:crypto would cost this start-up its load.
  let hash = 0x811c9dc5;
  for (let i = 0; i < file.length; i++) hash = Math.imul(hash ^ file.charCodeAt(i), 0x01000193);
  return `${path.basename(file)}-${(hash >>> 0).toString(16).padStart(8, '0')}`;
}

function codeCacheDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.KILN_CODE_CACHE === '0') return undefined;
  const dir = env.KILN_CODE_CACHE ? path.resolve(env.KILN_CODE_CACHE) : path.join(env.XDG_CACHE_HOME || path.join(env.HOME || '/tmp', '.cache'), 'kiln-code');
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
    return mine && (st.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined; // a read-only home: no cache, the same behaviour
  }
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Temp file and rename: a process starting meanwhile reads the old cache or
 * the new, never half of one. The caches of earlier builds of the same
 * install (file names starting with `stem`) go. Runs at exit: it must not
 * throw.
 */
function writeAtomically(file: string, data: Buffer, stem: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode: 0o600 });
    fs.renameSync(tmp, file);
    for (const old of fs.readdirSync(path.dirname(file))) {
      if (old.startsWith(`${stem}-`) && old.endsWith('.v8') && old !== path.basename(file)) fs.rmSync(path.join(path.dirname(file), old), { force: true });
    }
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing more to do: the next run compiles as if there were no cache
    }
  }
}
