import fs from 'node:fs';
import path from 'node:path';
import type { Result } from '../diagnostic.js';
import { RACY_MARGIN_MS, stampUnchanged, statLine } from '../keys/stamps.js';
import { sha256Hex } from '../keys/hash/sha256.js';
import { ensureStateDir } from '../state/state-dir.js';
import { readVersion } from '../version.js';
import { rules } from '../../rules/index.js';
import { listDir, type LoadTrace } from './load-trace.js';
import { decodeNode, encodeNode, FileTable, type Row } from './snapshot-codec.js';
import type { ToolchainDecl, Workspace } from './types.js';

/** Bump when the snapshot layout or the meaning of a validated Workspace changes. */
const FORMAT = 6;

interface Snapshot {
  /** kiln version, snapshot format and rule versions: a validation made by other code is not reused. */
  loader: string;
  rootFile: string;
  /** Workspace-relative build file → sha256 of its bytes. */
  files: Record<string, string>;
  /** Stat lines of those files once their bytes were checked against `files` (absent while one was too fresh to trust). */
  stamp?: string;
  globs: LoadTrace['globs'];
  /** Workspace-relative files whose absence the load relied on (e.g. a package's .gitignore). */
  absent?: string[];
  /** Directory listings the load relied on (e.g. `packages/` for npm workspaces `packages/*`). */
  dirs?: LoadTrace['dirs'];
  workspace: Omit<Workspace, 'root' | 'toolchains' | 'nodes'> & { toolchains: [string, ToolchainDecl][] };
  /** Last, after `workspace`: written a chunk at a time (`writeSnapshot`). */
  nodes: Row[];
  /** The files the nodes are declared in, each named in a row by its index (snapshot-codec.ts). */
  posFiles: string[];
}

/** A snapshot but its nodes, and the nodes as they are written. */
type SnapshotHead = Omit<Snapshot, 'nodes' | 'posFiles'>;
interface SnapshotNodes {
  count: number;
  row(index: number): Row;
  /** Asked once every row is written. */
  posFiles(): string[];
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
  // Before any build file is read: a file changed since can only have a later mtime or ctime (see stampFiles).
  const readFrom = Date.now();
  const valid = memo && memo.loader === loaderId && memo.rootFile === path.basename(rootFile) && (await stillValid(root, memo));
  if (memo && valid) {
    // Checked by hashing: stamp it so the next build only stats (written once, when the files are old enough).
    if (valid === 'hashed') {
      const stamp = stampFiles(root, Object.keys(memo.files), readFrom);
      const { nodes, posFiles, ...head } = memo;
      if (stamp !== undefined) writeSnapshot(root, memoFile, { ...head, stamp }, { count: nodes.length, row: (i) => nodes[i]!, posFiles: () => posFiles });
    }
    const { toolchains, ...rest } = memo.workspace;
    return { ok: true, value: { ...rest, root, toolchains: new Map(toolchains), nodes: memo.nodes.map((n) => decodeNode(n, memo.posFiles)) } };
  }
  // Only now the YAML parser and validators are loaded (~70 ms of imports a memo hit never pays).
  const load = await loader.load();
  const trace: LoadTrace = { texts: new Map(), globs: [], absent: [], dirs: [] };
  const loaded = load(rootFile, trace);
  if (loaded.ok) {
    const { root: _root, toolchains, nodes, ...rest } = loaded.value;
    const posFiles = new FileTable();
    const files = Object.fromEntries([...trace.texts].map(([rel, text]) => [rel, sha256Hex(text)]));
    const stamp = stampFiles(root, Object.keys(files), readFrom);
    writeSnapshot(
      root,
      memoFile,
      {
        loader: loaderId,
        rootFile: path.basename(rootFile),
        files,
        ...(stamp !== undefined ? { stamp } : {}),
        globs: trace.globs,
        absent: trace.absent,
        dirs: trace.dirs,
        workspace: { ...rest, toolchains: [...toolchains] },
      },
      { count: nodes.length, row: (i) => encodeNode(nodes[i]!, posFiles), posFiles: () => posFiles.files },
    );
  }
  return loaded;
}

/**
 * Whether the memo still describes the workspace: its build files unchanged
 * ('stamped': proven by stats alone; 'hashed': by reading them), the files
 * it relied on still absent, listed dirs and include globs as they were.
 */
async function stillValid(root: string, memo: Snapshot): Promise<'stamped' | 'hashed' | false> {
  const stamped = memo.stamp !== undefined && stampUnchanged(root, memo.stamp, 'stat');
  if (!stamped && !Object.entries(memo.files).every(([rel, digest]) => digestOf(root, rel) === digest)) return false;
  const how = stamped ? 'stamped' : 'hashed';
  if (memo.absent?.some((rel) => fs.existsSync(path.join(root, rel)))) return false;
  if (memo.dirs?.some((d) => listDir(root, d.dir).join('\n') !== d.entries.join('\n'))) return false;
  if (memo.globs.length === 0) return how;
  const { matchIncludeGlob } = await import('./include.js'); // tinyglobby: only for workspaces with include globs
  return memo.globs.every((g) => matchIncludeGlob(root, g.pattern).join('\n') === g.matches.join('\n')) && how;
}

function digestOf(root: string, rel: string): string | undefined {
  try {
    return sha256Hex(fs.readFileSync(path.join(root, rel), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Stat lines of the build files, read (hashed or parsed) from `readFrom`
 * on. A file whose mtime and ctime are older than that, by more than a
 * timestamp's granularity (RACY_MARGIN_MS), held the bytes that were read,
 * as kiln trusts input stamps (git's racy-clean rule): no second read of a
 * 4 MB file to compare. Undefined when a file is too fresh to trust,
 * changed, or unreadable.
 */
function stampFiles(root: string, rels: readonly string[], readFrom: number): string | undefined {
  const trustedBefore = readFrom - RACY_MARGIN_MS;
  const lines: string[] = [];
  for (const rel of rels) {
    if (rel.includes('\n')) return undefined; // a stamp is one line per path
    const st = fs.statSync(path.join(root, rel), { throwIfNoEntry: false });
    if (!st || st.mtimeMs >= trustedBefore || st.ctimeMs >= trustedBefore) return undefined;
    lines.push(statLine(rel, st));
  }
  return lines.join('\n');
}

function readSnapshot(file: string): Snapshot | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Snapshot;
  } catch {
    return undefined; // absent or torn: load from the build files
  }
}

/** Rows encoded and written at a time: enough that a write is large, few enough that they die young. */
const ROWS_PER_WRITE = 2000;

/**
 * The memo, its nodes encoded and written a chunk at a time: held whole, a
 * 100,000-node memo's rows and then its text lived long enough for the
 * collector to copy them and to run a full collection (50 ms) over them.
 */
function writeSnapshot(root: string, file: string, head: SnapshotHead, nodes: SnapshotNodes): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    ensureStateDir(root, path.dirname(file));
    const fd = fs.openSync(tmp, 'w');
    try {
      // The head is an object with keys: its text ends with the brace the nodes go before.
      fs.writeSync(fd, `${JSON.stringify(head).slice(0, -1)},"nodes":[`);
      for (let at = 0; at < nodes.count; at += ROWS_PER_WRITE) {
        const rows = new Array<Row>(Math.min(ROWS_PER_WRITE, nodes.count - at));
        for (let i = 0; i < rows.length; i++) rows[i] = nodes.row(at + i);
        const text = JSON.stringify(rows);
        fs.writeSync(fd, at === 0 ? text.slice(1, -1) : `,${text.slice(1, -1)}`);
      }
      fs.writeSync(fd, `],"posFiles":${JSON.stringify(nodes.posFiles())}}`);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch {
    // A read-only checkout still builds; it just parses YAML every time. A full disk leaves no part of a memo.
    fs.rmSync(tmp, { force: true });
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
