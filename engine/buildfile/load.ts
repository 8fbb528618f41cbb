import path from 'node:path';
import { fail, failAll, ok, type Diagnostic, type Result } from '../diagnostic.js';
import type { BenchDecl, CobuildDecl, HistoryDecl, RemoteDecl, ToolchainDecl, Workspace } from './types.js';
import { checkWorkspace } from './checks.js';
import { applyDefaults, type RuleDefaults } from './defaults.js';
import { readContents, type FileContents } from './file.js';
import { expandInclude, type PendingFile } from './include.js';
import { readText } from './load-trace.js';
import type { LoadTrace } from './load-trace.js';
import type { ParsedNode } from './node.js';
import { importSource, type NpmImport } from './npm/config.js';
import { importNpmWorkspace } from './npm/import.js';
import { readTurboSource } from './npm/turbo-source.js';
import { SourceFile } from './source.js';
import { PiecesDeclined } from './yaml/events.js';
import { pushAll } from '../arrays.js';
import { adoptNodeIndex } from '../graph/node-index.js';


/**
 * Loads the root build file and everything it includes, validating all of
 * it. Synchronous on purpose: this runs on every build, including no-op ones,
 * and there is nothing to overlap. Either a valid workspace or every
 * diagnostic found, sorted by file (in load order) and position.
 */
export function loadWorkspace(rootFileAbs: string, trace: LoadTrace = { texts: new Map(), globs: [], absent: [], dirs: [] }): Result<Workspace> {
  const rootFile = path.resolve(rootFileAbs);
  const root = path.dirname(rootFile);
  const read = readText(rootFile);
  if ('error' in read) return fail({ message: `cannot read build file '${rootFile}': ${read.error}` });

  const diagnostics: Diagnostic[] = [];
  const rootRel = path.basename(rootFile);
  const queue: PendingFile[] = [{ rel: rootRel, text: read.text }];
  const seen = new Set([rootRel]);
  const parsed: ParsedNode[] = [];
  const toolchains = new Map<string, ToolchainDecl>();
  let remote: RemoteDecl | undefined;
  let history: HistoryDecl | undefined;
  let bench: BenchDecl | undefined;
  let npm: NpmImport | undefined;
  let defaults: RuleDefaults | undefined;
  let cobuild: CobuildDecl | undefined;
  // Breadth-first: a file's own nodes come before those of the files it includes.
  for (const pending of queue) {
    const { file, contents } = readFile(pending, pending === queue[0], diagnostics);
    for (const t of contents.toolchains) toolchains.set(t.name, t);
    remote ??= contents.remote;
    history ??= contents.history;
    bench ??= contents.bench;
    npm ??= contents.import;
    defaults ??= contents.defaults;
    cobuild ??= contents.cobuild;
    pushAll(parsed, contents.nodes);
    for (const item of contents.includes) pushAll(queue, expandInclude(file, item, root, seen, trace.globs));
  }
  for (const f of queue) trace.texts.set(f.rel, f.text);
  // Imported nodes come after the hand-written ones, which may depend on them.
  let warnings: Diagnostic[] = [];
  if (npm) {
    const config = npm;
    const imported = importNpmWorkspace(
      root,
      (packages, d, t) => importSource(config, readTurboSource(root, packages, [...config.scripts.keys()], d, t, 'definitions'), d),
      diagnostics,
      trace,
    );
    pushAll(parsed, imported.nodes);
    warnings = imported.warnings;
  }
  if (defaults) applyDefaults(parsed, defaults);
  const { nodes, places } = checkWorkspace(parsed, toolchains, diagnostics);
  const files = queue.map((f) => f.rel);
  if (diagnostics.length > 0) return failAll(sortByPosition(diagnostics, files));
  const ws: Workspace = { root, files, nodes, toolchains, ...(warnings.length > 0 ? { warnings } : {}), ...(remote ? { remote } : {}), ...(cobuild ? { cobuild } : {}), ...(history ? { history } : {}), ...(bench ? { bench } : {}) };
  adoptNodeIndex(ws, places);
  return ok(ws);
}

/**
 * One build file read: its nodes streamed piece by piece when it is large
 * (SourceFile's `stream`), or, when a piece cannot be read alone, the file
 * read again whole, with what the first reading reported taken back.
 */
export function readFile(pending: PendingFile, isRoot: boolean, diagnostics: Diagnostic[]): { file: SourceFile; contents: FileContents } {
  const dir = path.posix.dirname(pending.rel);
  const open = (stream?: string) => new SourceFile(pending.rel, dir === '.' ? '' : dir, pending.text, diagnostics, stream);
  const reported = diagnostics.length;
  try {
    const file = open('nodes');
    return { file, contents: readContents(file, isRoot) };
  } catch (e) {
    if (!(e instanceof PiecesDeclined)) throw e;
    diagnostics.length = reported;
    const file = open();
    return { file, contents: readContents(file, isRoot) };
  }
}

function sortByPosition(diagnostics: Diagnostic[], files: string[]): Diagnostic[] {
  const fileOrder = new Map(files.map((f, i) => [f, i]));
  const rank = (d: Diagnostic) => (d.pos ? [fileOrder.get(d.pos.file) ?? 0, d.pos.line, d.pos.column] : [-1, 0, 0]);
  return diagnostics
    .map((d) => ({ d, r: rank(d) }))
    .sort((a, b) => a.r[0]! - b.r[0]! || a.r[1]! - b.r[1]! || a.r[2]! - b.r[2]!)
    .map(({ d }) => d);
}
