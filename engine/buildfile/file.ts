import { isMap } from './yaml/tree.js';
import { readHistory } from './history.js';
import type { BenchDecl, CobuildDecl, HistoryDecl, RemoteDecl, ToolchainDecl } from './types.js';
import { readCobuild } from './cobuild.js';
import { readBench } from './bench.js';
import { readDefaults, type RuleDefaults } from './defaults.js';
import { readImport, type NpmImport } from './npm/config.js';
import { readRemote } from './remote.js';
import { suggest } from './hint.js';
import { parseNode, type ParsedNode } from './node.js';
import { isAbsolute } from './paths.js';
import type { Entry, SourceFile } from './source.js';
import { textList, textValue, type TextItem } from './values.js';

/** What one build file declares; includes are resolved by the loader. */
export interface FileContents {
  includes: TextItem[];
  toolchains: ToolchainDecl[];
  nodes: ParsedNode[];
  remote?: RemoteDecl;
  history?: HistoryDecl;
  bench?: BenchDecl;
  /** `import: npm-workspaces`: nodes made from the package.json scripts of an npm workspace. */
  import?: NpmImport;
  /** `defaults:` per rule (root file only). */
  defaults?: RuleDefaults;
  cobuild?: CobuildDecl;
}

const TOP_KEYS = ['include', 'toolchains', 'nodes', 'defaults', 'remote', 'cobuild', 'history', 'bench', 'import'];
const TOOLCHAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Reads the top level of one build file. An empty file declares nothing, which is fine. */
export function readContents(file: SourceFile, isRoot: boolean): FileContents {
  const contents: FileContents = { includes: [], toolchains: [], nodes: [] };
  const top = file.broken ? undefined : file.deref(file.root);
  if (!top) return contents;
  if (!isMap(top)) {
    file.report(top, 'a build file must be a mapping', `its keys are ${TOP_KEYS.join(', ')}`);
    return contents;
  }
  for (const e of file.uniqueEntries(top)) {
    if (e.key === 'include') contents.includes = includes(file, e);
    else if (e.key === 'toolchains') contents.toolchains = isRoot ? toolchains(file, e) : misplacedToolchains(file, e);
    else if (e.key === 'nodes') contents.nodes = nodes(file, e);
    else if (e.key === 'remote') {
      if (isRoot) contents.remote = readRemote(file, e);
      else file.report(e.keyNode, 'remote can only be configured in the root build file');
    } else if (e.key === 'import') {
      if (!isRoot) file.report(e.keyNode, 'import can only be used in the root build file');
      const imported = isRoot ? readImport(file, e) : undefined;
      if (imported) contents.import = imported;
    }
    else if (e.key === 'history') {
      if (isRoot) contents.history = readHistory(file, e);
      else file.report(e.keyNode, 'history can only be configured in the root build file', 'history is kept per checkout');
    }
    else if (e.key === 'cobuild') {
      if (isRoot) {
        const decl = readCobuild(file, e);
        if (decl) contents.cobuild = decl;
      } else file.report(e.keyNode, 'cobuild can only be configured in the root build file');
    }
    else if (e.key === 'defaults') {
      if (isRoot) contents.defaults = readDefaults(file, e);
      else file.report(e.keyNode, 'defaults can only be set in the root build file', 'they apply to the nodes of every build file');
    }
    else if (e.key === 'bench') {
      if (isRoot) contents.bench = readBench(file, e);
      else file.report(e.keyNode, 'bench can only be configured in the root build file', 'kiln bench scenarios belong to the whole workspace');
    }
    else file.report(e.keyNode, `unknown key '${e.key}'`, suggest(e.key, TOP_KEYS, `valid keys: ${TOP_KEYS.join(', ')}`));
  }
  return contents;
}

const includes = (file: SourceFile, e: Entry) =>
  textList(file, e, {
    list: 'a list of build file paths or globs',
    item: 'a build file path or glob',
    check: (pattern, at) => {
      if (!isAbsolute(pattern)) return pattern;
      file.report(at, `include '${pattern}' is an absolute path`, "includes are relative to this file's directory");
      return undefined;
    },
  });

function toolchains(file: SourceFile, e: Entry): ToolchainDecl[] {
  if (!e.value) return [];
  if (!isMap(e.value)) {
    file.report(e.at, 'expected a mapping of toolchain name to version command', 'e.g. `python: python3 --version`');
    return [];
  }
  const decls: ToolchainDecl[] = [];
  for (const t of file.uniqueEntries(e.value)) {
    const command = textValue(file, t.value, t.at, 'a command that prints the version');
    if (!TOOLCHAIN_NAME.test(t.key)) {
      file.report(t.keyNode, `invalid toolchain name '${t.key}'`, 'names start with a letter or digit, then letters, digits and . _ -');
    } else if (command !== undefined) {
      decls.push({ name: t.key, command, pos: file.pos(t.keyNode) });
    }
  }
  return decls;
}

/** Toolchains are workspace-wide, so they have one home: two included files cannot give a name different commands. */
function misplacedToolchains(file: SourceFile, e: Entry): ToolchainDecl[] {
  file.report(e.keyNode, 'toolchains can only be declared in the root build file', 'move them to the root build file; every node can use them');
  return [];
}

function nodes(file: SourceFile, e: Entry): ParsedNode[] {
  if (!e.value) return [];
  if (!isMap(e.value)) {
    file.report(e.at, 'expected a mapping of node id to node', 'e.g. `nodes: {gen: {rule: run, cmd: make}}`');
    return [];
  }
  // Not uniqueEntries: a repeated id is reported by the loader, which also sees ids from other files.
  // Entry by entry: a large file hands them out piece by piece (SourceFile.forEachEntry).
  const parsed: ParsedNode[] = [];
  file.forEachEntry(e.value, (n) => {
    const node = parseNode(file, n.key, n.keyNode, n.value, n.at);
    if (node) parsed.push(node);
  });
  return parsed;
}
