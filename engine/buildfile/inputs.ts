import picomatch from 'picomatch';
import { isMap } from './yaml/tree.js';
import type { YamlNode, YamlMap } from './yaml/tree.js';
import type { InputPattern, NodeDecl } from './types.js';
import { suggest } from './hint.js';
import { escapes, isAbsolute, joinRel, normalise } from './paths.js';
import type { Entry, SourceFile } from './source.js';
import { boolValue, listItems, textValue, withoutRepeats } from './values.js';

const INPUT_KEYS = ['glob', 'required'];

/** Only these characters can make picomatch reject a glob, so other globs skip compiling. */
const BRACKETS = /[[\]{}()]/;

/** One item as written, before its glob is checked. */
interface InputSpec {
  glob: string | undefined;
  required?: boolean | undefined;
  at: YamlNode;
}

/**
 * `inputs:` — each item a glob string or `{glob, required}`. Globs are kept
 * relative to the node dir (`!` prefix for excludes); positive globs are
 * required unless said otherwise, excludes never are.
 */
export function parseInputs(file: SourceFile, e: Entry, decl: Pick<NodeDecl, 'id' | 'dir' | 'pos'>): InputPattern[] {
  const { dir: nodeDir, id: nodeId } = decl;
  const patterns: (InputPattern & { at: YamlNode })[] = [];
  for (const { node, at } of listItems(file, e, 'a list of input globs, or `traced`')) {
    const spec: InputSpec = isMap(node) ? inputMap(file, node, at) : { glob: textValue(file, node, at, 'a glob'), at };
    if (spec.glob === undefined) continue;
    const glob = checkGlob(file, spec.glob, spec.at, nodeDir, nodeId);
    if (glob === undefined) continue;
    const negated = glob.startsWith('!');
    if (negated && spec.required === true) {
      file.report(at, `exclude pattern '${glob}' cannot be required`, 'drop `required`', nodeId);
      continue;
    }
    patterns.push({ glob, required: spec.required ?? !negated, pos: file.near(spec.at, decl.pos), at: spec.at });
  }
  return withoutRepeats(file, e.key, patterns, (p) => p.glob).map(({ glob, required, pos }) => ({ glob, required, pos }));
}

/** `{glob: ..., required: ...}`. */
function inputMap(file: SourceFile, map: YamlMap, at: YamlNode): InputSpec {
  let globEntry: Entry | undefined;
  let required: boolean | undefined;
  for (const f of file.uniqueEntries(map)) {
    if (f.key === 'glob') globEntry = f;
    else if (f.key === 'required') required = boolValue(file, f.value, f.at);
    else file.report(f.keyNode, `unknown key '${f.key}' in input`, suggest(f.key, INPUT_KEYS, 'an input has `glob` and optionally `required`'));
  }
  if (!globEntry) {
    file.report(at, "input has no 'glob'", 'write `{glob: "src/**", required: false}`');
    return { glob: undefined, required, at };
  }
  return { glob: textValue(file, globEntry.value, globEntry.at, 'a glob'), required, at: globEntry.at };
}

/** The glob in normal form, or undefined after reporting why it is unusable. */
function checkGlob(file: SourceFile, raw: string, at: YamlNode, nodeDir: string, nodeId: string): string | undefined {
  const negated = raw.startsWith('!');
  const body = negated ? raw.slice(1) : raw;
  if (body === '') {
    file.report(at, 'expected a glob after `!`', undefined, nodeId);
    return undefined;
  }
  if (isAbsolute(body)) {
    file.report(at, `input '${raw}' is an absolute path`, 'input globs are relative to the node dir', nodeId);
    return undefined;
  }
  if (BRACKETS.test(body)) {
    try {
      picomatch.makeRe(body, { strictBrackets: true });
    } catch (err) {
      file.report(at, `invalid glob '${raw}': ${(err as Error).message}`, undefined, nodeId);
      return undefined;
    }
  }
  const glob = normalise(body);
  if (glob === '') {
    file.report(at, `input '${raw}' is the node dir itself`, "use '**' for every file under it", nodeId);
    return undefined;
  }
  if (escapes(joinRel(nodeDir, glob))) {
    file.report(at, `input '${raw}' is outside the workspace`, `it is relative to the node dir '${nodeDir || '.'}'`, nodeId);
    return undefined;
  }
  return negated ? `!${glob}` : glob;
}
