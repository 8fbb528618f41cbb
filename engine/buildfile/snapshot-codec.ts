import type { SourcePos } from '../diagnostic.js';
import { NONE } from '../arrays.js';
import { setOwn } from './records.js';
import type { NearPos } from './near-pos.js';
import type { DepRef, InputPattern, NodeDecl, UseRef } from './types.js';

/**
 * The memo's form of node declarations (snapshot.ts): one array a node,
 * its fields in a fixed order (`Row`), the items of a list and the entries
 * of a record laid flat in one array, an empty list a 0; the positions
 * inside a declaration are already small numbers (near-pos.ts). JSON pays
 * for every property name and for every number too large to be a small
 * integer: declarations written as they are held made a 100,000-node memo
 * of 33 MB; with positions packed into one (large) number each, 15 MB that
 * took 0.1 s to write and 0.13 s to parse; as rows, 9 MB.
 */

/** A list laid flat (`[id, pos, id, pos]` for deps), or 0 for none. */
type Flat = readonly unknown[] | 0;

/**
 * One declaration: id, rule, dir, its position (index of its file in the
 * memo's file list, line, column), then flat: attributes as key, value;
 * fieldPos as key, pos; deps as id, pos; inputs as glob, required, pos;
 * outputs; env; secretEnv; toolchain; uses as dep, name, pos; then the
 * fields a declaration may leave out (`OPTIONAL`) as a record, or 0.
 */
export type Row = [string, string, string, number, number, number, Flat, Flat, Flat, Flat, Flat, Flat, Flat, Flat, Flat, Partial<Pick<NodeDecl, OptionalKey>> | 0];

/** The files the nodes' positions are in, each named in a row by its index. */
export class FileTable {
  readonly files: string[] = [];
  private readonly index = new Map<string, number>();
  /** The last file looked up: most nodes are in the file of the one before. */
  private lastFile = '';
  private lastIndex = 0;

  indexOf(file: string): number {
    if (file === this.lastFile) return this.lastIndex;
    let i = this.index.get(file);
    if (i === undefined) {
      i = this.files.length;
      this.files.push(file);
      this.index.set(file, i);
    }
    this.lastFile = file;
    this.lastIndex = i;
    return i;
  }
}

/** A list as it is, or 0 for an empty one. */
const listOrNone = (list: readonly string[]): Flat => (list.length > 0 ? list : 0);

/** Each entry of a record as key, value. Sized up front: pushing into an empty list reserves 17 slots. */
function flatRecord(record: Record<string, unknown>): Flat {
  const keys = Object.keys(record);
  if (keys.length === 0) return 0;
  const flat = new Array<unknown>(keys.length * 2);
  for (let i = 0; i < keys.length; i++) {
    flat[2 * i] = keys[i];
    flat[2 * i + 1] = record[keys[i]!];
  }
  return flat;
}

/** How the items of a list are laid flat: a reader for each field, in order (`decodeNode` reads them back in that order). */
const DEP_FIELDS = [(d: DepRef) => d.id, (d: DepRef) => d.pos];
const INPUT_FIELDS = [(i: InputPattern) => i.glob, (i: InputPattern) => i.required, (i: InputPattern) => i.pos];
const USE_FIELDS = [(u: UseRef) => u.dep, (u: UseRef) => u.name, (u: UseRef) => u.pos];

/** The items of `list` laid flat, sized up front; 0 for none. */
function flatList<T>(list: readonly T[], fields: readonly ((item: T) => unknown)[]): Flat {
  if (list.length === 0) return 0;
  const width = fields.length;
  const flat = new Array<unknown>(list.length * width);
  for (let i = 0; i < list.length; i++) for (let f = 0; f < width; f++) flat[i * width + f] = fields[f]!(list[i]!);
  return flat;
}

/** The row of a declaration: built with literals, not by walking its keys (a field NodeDecl gains must be added to `Row` or `OPTIONAL_FIELDS`). */
export function encodeNode(n: NodeDecl, files: FileTable): Row {
  const at = n.pos;
  return [
    n.id,
    n.rule,
    n.dir,
    files.indexOf(at.file),
    at.line,
    at.column,
    flatRecord(n.attrs),
    flatRecord(n.fieldPos),
    flatList(n.deps, DEP_FIELDS),
    flatList(n.inputs, INPUT_FIELDS),
    listOrNone(n.outputs),
    listOrNone(n.env),
    listOrNone(n.secretEnv),
    listOrNone(n.toolchain),
    flatList(n.uses, USE_FIELDS),
    optional(n),
  ];
}

/**
 * The fields a declaration may leave out, each read by name: this record
 * fails to compile until a field NodeDecl gains is either here or in `Row`.
 * (Read by a key taken from a list, the six cost 100,000 nodes 15 ms.)
 */
type Written = 'id' | 'rule' | 'dir' | 'deps' | 'inputs' | 'outputs' | 'env' | 'secretEnv' | 'toolchain' | 'uses' | 'attrs' | 'pos' | 'fieldPos';
type OptionalKey = Exclude<keyof NodeDecl, Written>;
const OPTIONAL_FIELDS: { [K in OptionalKey]: (n: NodeDecl) => NodeDecl[K] } = {
  description: (n) => n.description,
  traced: (n) => n.traced,
  lenientOutputs: (n) => n.lenientOutputs,
  passEnv: (n) => n.passEnv,
  noCache: (n) => n.noCache,
  writeScan: (n) => n.writeScan,
};
const OPTIONAL = Object.entries(OPTIONAL_FIELDS) as [OptionalKey, (n: NodeDecl) => unknown][];

function optional(n: NodeDecl): Row[15] {
  let found: Partial<Record<OptionalKey, unknown>> | undefined;
  for (const [key, read] of OPTIONAL) {
    const value = read(n);
    if (value !== undefined) (found ??= {})[key] = value;
  }
  return (found as Row[15] | undefined) ?? 0;
}

/** A flat record back as a record. */
function record<T>(flat: Flat): Record<string, T> {
  const out: Record<string, T> = {};
  if (flat === 0) return out;
  for (let i = 0; i < flat.length; i += 2) setOwn(out, flat[i] as string, flat[i + 1] as T);
  return out;
}

/** The declaration `encodeNode` made `row` from, built with one literal (spreading a parsed object cost 0.4 s on 100,000 nodes). */
export function decodeNode(row: Row, files: readonly string[]): NodeDecl {
  const [id, rule, dir, file, line, column, attrs, fieldPos, deps, inputs, outputs, env, secretEnv, toolchain, uses, rest] = row;
  const at: SourcePos = { file: files[file]!, line, column };
  const decl: NodeDecl = {
    id,
    rule,
    dir,
    deps: deps === 0 ? NONE : depsOf(deps),
    inputs: inputs === 0 ? NONE : inputsOf(inputs),
    outputs: (outputs || NONE) as readonly string[],
    env: (env || NONE) as readonly string[],
    secretEnv: (secretEnv || NONE) as readonly string[],
    toolchain: (toolchain || NONE) as readonly string[],
    uses: uses === 0 ? NONE : usesOf(uses),
    attrs: record(attrs),
    pos: at,
    fieldPos: record(fieldPos),
  };
  if (rest !== 0) for (const [key] of OPTIONAL) if (rest[key] !== undefined) (decl as Partial<Record<OptionalKey, unknown>>)[key] = rest[key];
  return decl;
}

function depsOf(flat: readonly unknown[]): DepRef[] {
  const out = new Array<DepRef>(flat.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = { id: flat[2 * i] as string, pos: flat[2 * i + 1] as NearPos };
  return out;
}

function inputsOf(flat: readonly unknown[]): InputPattern[] {
  const out = new Array<InputPattern>(flat.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = { glob: flat[3 * i] as string, required: flat[3 * i + 1] as boolean, pos: flat[3 * i + 2] as NearPos };
  return out;
}

function usesOf(flat: readonly unknown[]): UseRef[] {
  const out = new Array<UseRef>(flat.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = { dep: flat[3 * i] as string, name: flat[3 * i + 1] as string, pos: flat[3 * i + 2] as NearPos };
  return out;
}
