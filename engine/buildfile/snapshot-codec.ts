import type { SourcePos } from '../diagnostic.js';
import { NONE } from '../arrays.js';
import type { DepRef, InputPattern, NodeDecl, UseRef } from './types.js';

/**
 * The memo's form of node declarations (snapshot.ts). Written as they are
 * held, a 100,000-node workspace made a 33 MB memo, two thirds of it
 * positions (`{"file":"kiln.yaml","line":13,"column":3}`, three or more a
 * node) and empty lists; parsing it was most of a no-op build's load, and
 * writing it a fifth of a cold one. Here a position is one number, an empty
 * list is left out, and the rest of a declaration is kept as it is.
 */

/** A position packed into one number (see `PositionTable.pack`), or as held when it does not fit. */
type PackedPos = number | SourcePos;

type Packed<T> = Omit<T, 'pos'> & { pos: PackedPos };

/** A declaration in the memo: positions packed, empty lists absent. */
export type EncodedNode = Omit<NodeDecl, 'pos' | 'fieldPos' | ListKey | 'deps' | 'inputs' | 'uses'> & {
  pos: PackedPos;
  fieldPos: Record<string, PackedPos>;
  deps?: Packed<DepRef>[];
  inputs?: Packed<InputPattern>[];
  uses?: Packed<UseRef>[];
} & Partial<Pick<NodeDecl, ListKey>>;

/** The lists of a declaration that hold no positions. */
type ListKey = 'outputs' | 'env' | 'secretEnv' | 'toolchain';

/** Bits of a packed position: column, then line, then file index (2^53 is the largest exact integer). */
const COLUMN = 2 ** 16;
const LINE = 2 ** 27;
const FILES = 2 ** 10;

/** The files positions point into, each packed position naming its file by index in `files`. */
export class PositionTable {
  readonly files: string[] = [];
  private readonly index = new Map<string, number>();

  pack(pos: SourcePos): PackedPos {
    let i = this.index.get(pos.file);
    if (i === undefined) {
      i = this.files.length;
      this.files.push(pos.file);
      this.index.set(pos.file, i);
    }
    const fits = i < FILES && pos.line < LINE && pos.column < COLUMN && Number.isInteger(pos.line) && Number.isInteger(pos.column) && pos.line >= 0 && pos.column >= 0;
    return fits ? (i * LINE + pos.line) * COLUMN + pos.column : pos;
  }
}

function unpack(files: readonly string[], p: PackedPos): SourcePos {
  if (typeof p !== 'number') return p;
  const column = p % COLUMN;
  const rest = (p - column) / COLUMN;
  const line = rest % LINE;
  return { file: files[(rest - line) / LINE]!, line, column };
}

/**
 * Field by field, as `decodeNode`: a rest-and-spread copy cost 2 µs a node.
 * An empty list is left undefined, which JSON leaves out.
 */
export function encodeNode(n: NodeDecl, table: PositionTable): EncodedNode {
  const fieldPos: Record<string, PackedPos> = {};
  for (const key of Object.keys(n.fieldPos)) fieldPos[key] = table.pack(n.fieldPos[key]!);
  const encoded: EncodedNode = {
    id: n.id,
    rule: n.rule,
    dir: n.dir,
    deps: n.deps.length > 0 ? n.deps.map((d) => ({ id: d.id, pos: table.pack(d.pos) })) : undefined,
    inputs: n.inputs.length > 0 ? n.inputs.map((i) => ({ glob: i.glob, required: i.required, pos: table.pack(i.pos) })) : undefined,
    outputs: nonEmpty(n.outputs),
    env: nonEmpty(n.env),
    secretEnv: nonEmpty(n.secretEnv),
    toolchain: nonEmpty(n.toolchain),
    uses: n.uses.length > 0 ? n.uses.map((u) => ({ dep: u.dep, name: u.name, pos: table.pack(u.pos) })) : undefined,
    attrs: n.attrs,
    pos: table.pack(n.pos),
    fieldPos,
  };
  copyOptional(n, encoded);
  return encoded;
}

const nonEmpty = <T>(list: readonly T[]): readonly T[] | undefined => (list.length > 0 ? list : undefined);

/**
 * The fields a declaration may leave out, copied as they are when present.
 * Named, not found by walking each declaration's keys (1.5 million key
 * checks on 100,000 nodes). A field NodeDecl gains must be added here or to
 * the codec's literals (`Written`): this record fails to compile until it is.
 */
type Written = 'id' | 'rule' | 'dir' | 'deps' | 'inputs' | 'outputs' | 'env' | 'secretEnv' | 'toolchain' | 'uses' | 'attrs' | 'pos' | 'fieldPos';
type OptionalKey = Exclude<keyof NodeDecl, Written>;
const OPTIONAL_KEYS: Record<OptionalKey, true> = { description: true, traced: true, lenientOutputs: true, passEnv: true, noCache: true, writeScan: true };
const OPTIONAL = Object.keys(OPTIONAL_KEYS) as OptionalKey[];

function copyOptional(from: Partial<Record<OptionalKey, unknown>>, to: Partial<Record<OptionalKey, unknown>>): void {
  for (const key of OPTIONAL) if (from[key] !== undefined) to[key] = from[key];
}

/**
 * The declaration `encodeNode` was made from. Built field by field, not by
 * spreading the parsed object and overriding (six times slower: 0.4 s on
 * 100,000 nodes); the fields kept as they are follow.
 */
export function decodeNode(e: EncodedNode, files: readonly string[]): NodeDecl {
  const fieldPos: Record<string, SourcePos> = {};
  for (const key of Object.keys(e.fieldPos)) fieldPos[key] = unpack(files, e.fieldPos[key]!);
  const decl: NodeDecl = {
    id: e.id,
    rule: e.rule,
    dir: e.dir,
    deps: e.deps ? e.deps.map((d) => ({ id: d.id, pos: unpack(files, d.pos) })) : NONE,
    inputs: e.inputs ? e.inputs.map((i) => ({ glob: i.glob, required: i.required, pos: unpack(files, i.pos) })) : NONE,
    outputs: e.outputs ?? NONE,
    env: e.env ?? NONE,
    secretEnv: e.secretEnv ?? NONE,
    toolchain: e.toolchain ?? NONE,
    uses: e.uses ? e.uses.map((u) => ({ dep: u.dep, name: u.name, pos: unpack(files, u.pos) })) : NONE,
    attrs: e.attrs,
    pos: unpack(files, e.pos),
    fieldPos,
  };
  copyOptional(e, decl);
  return decl;
}
