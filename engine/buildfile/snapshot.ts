import fs from 'node:fs';
import path from 'node:path';
import type { Result } from '../diagnostic.js';
import { sha256Hex } from '../hash/sha256.js';
import { readVersion } from '../version.js';
import { rules } from '../../rules/index.js';
import type { LoadTrace } from './load.js';
import type { ToolchainDecl, Workspace } from './types.js';

/** Bump when the snapshot layout or the meaning of a validated Workspace changes. */
const FORMAT = 1;

interface Snapshot {
  /** kiln version, snapshot format and rule versions: a validation made by other code is not reused. */
  loader: string;
  rootFile: string;
  /** Workspace-relative build file → sha256 of its bytes. */
  files: Record<string, string>;
  globs: LoadTrace['globs'];
  /** Workspace-relative files whose absence the load relied on (e.g. a package's .gitignore). */
  absent?: string[];
  /** Directory listings the load relied on (e.g. `packages/` for npm workspaces `packages/*`). */
  dirs?: LoadTrace['dirs'];
  workspace: Omit<Workspace, 'root' | 'toolchains'> & { toolchains: [string, ToolchainDecl][] };
}

/** How a workspace is loaded on a memo miss; `id` tells memos made by different loaders apart. */
export interface WorkspaceLoader {
  id: string;
  /** Imported lazily: a memo hit never loads the parser. */
  load(): Promise<(rootFileAbs: string, trace: LoadTrace) => Result<Workspace>>;
}

/** The default: the root kiln.yaml and the files it includes. */
const BUILD_FILES: WorkspaceLoader = { id: 'kiln.yaml', load: async () => (await import('./load.js')).loadWorkspace };

/**
 * loadWorkspace with a memo in the checkout state dir. Parsing YAML costs
 * hundreds of ms for a large workspace; reading the build files and
 * comparing their hashes (plus re-running include globs, so an added build
 * file is seen) costs a few. Only a valid workspace is memoised: mistakes are
 * always reported fresh.
 */
export async function loadWorkspaceCached(
  rootFileAbs: string,
  stateDir: string,
  loader: WorkspaceLoader = BUILD_FILES,
): Promise<Result<Workspace>> {
  const rootFile = path.resolve(rootFileAbs);
  const root = path.dirname(rootFile);
  const memoFile = path.join(root, stateDir, 'workspace.json');
  const loaderId = `${readVersion()}/${FORMAT}/${[...rules.values()].map((r) => `${r.id}@${r.version}`).join(',')}/${loader.id}`;
  const memo = readSnapshot(memoFile);
  if (memo && memo.loader === loaderId && memo.rootFile === path.basename(rootFile) && (await stillValid(root, memo))) {
    return { ok: true, value: { ...memo.workspace, root, toolchains: new Map(memo.workspace.toolchains) } };
  }
  // Only now the YAML parser and validators are loaded (~70 ms of imports a memo hit never pays).
  const load = await loader.load();
  const trace: LoadTrace = { texts: new Map(), globs: [], absent: [], dirs: [] };
  const loaded = load(rootFile, trace);
  if (loaded.ok) {
    const { root: _root, toolchains, ...rest } = loaded.value;
    writeSnapshot(memoFile, {
      loader: loaderId,
      rootFile: path.basename(rootFile),
      files: Object.fromEntries([...trace.texts].map(([rel, text]) => [rel, sha256Hex(text)])),
      globs: trace.globs,
      absent: trace.absent,
      dirs: trace.dirs,
      workspace: { ...rest, toolchains: [...toolchains] },
    });
  }
  return loaded;
}

async function stillValid(root: string, memo: Snapshot): Promise<boolean> {
  for (const [rel, digest] of Object.entries(memo.files)) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(root, rel), 'utf8');
    } catch {
      return false;
    }
    if (sha256Hex(text) !== digest) return false;
  }
  if (memo.absent?.some((rel) => fs.existsSync(path.join(root, rel)))) return false;
  if (memo.dirs?.some((d) => listDir(root, d.dir).join('\n') !== d.entries.join('\n'))) return false;
  if (memo.globs.length === 0) return true;
  const { matchIncludeGlob } = await import('./include.js'); // tinyglobby: only for workspaces with include globs
  return memo.globs.every((g) => matchIncludeGlob(root, g.pattern).join('\n') === g.matches.join('\n'));
}

/** A directory's entries, sorted, directories marked with a trailing `/`; none when it cannot be read. */
export function listDir(root: string, rel: string): string[] {
  try {
    return fs
      .readdirSync(path.join(root, rel), { withFileTypes: true })
      .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
      .sort();
  } catch {
    return [];
  }
}

function readSnapshot(file: string): Snapshot | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
  } catch {
    return undefined; // absent or torn: load from the build files
  }
}

function writeSnapshot(file: string, snapshot: Snapshot): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(snapshot));
    fs.renameSync(tmp, file);
  } catch {
    // A read-only checkout still builds; it just parses YAML every time.
  }
}

/** What a valid memo was made from (build files, files that must stay absent, listed dirs, include globs): what a watcher must watch. */
export function memoSources(
  root: string,
  stateDir: string,
): { files: string[]; absent: string[]; dirs: string[]; globs: LoadTrace['globs'] } | undefined {
  const memo = readSnapshot(path.join(root, stateDir, 'workspace.json'));
  return memo && { files: Object.keys(memo.files), absent: memo.absent ?? [], dirs: (memo.dirs ?? []).map((d) => d.dir), globs: memo.globs };
}
