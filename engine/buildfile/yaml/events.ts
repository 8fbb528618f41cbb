import { createRequire } from 'node:module';
import type { Event, ScalarEvent } from 'js-yaml';
import { resolvePlain } from './core-schema.js';
import { scanPiece } from './piece-scanner.js';
import { planSections, type SectionCut } from './sections.js';
import type { YamlMap, YamlNode, YamlPair, YamlScalar } from './tree.js';
import { pushAll } from '../../arrays.js';

const requireHere = createRequire(import.meta.url);
let jsYaml: typeof import('js-yaml') | undefined;
/**
 * js-yaml, loaded when a build file is first parsed (~85 KB the CLI would
 * otherwise compile on every run): a no-op build loads its workspace from the
 * memo. Outside the bundle, as `yaml` is.
 */
const lib = (): typeof import('js-yaml') => (jsYaml ??= requireHere('js-yaml') as typeof import('js-yaml'));

/**
 * A collection still open: its items are the tail of the shared `values`
 * stack from `from` on (a mapping's as key, value, key, value...).
 */
interface Open {
  kind: 'map' | 'seq';
  start: number;
  from: number;
}

/** YAML 1.2 caps an implicit key at 1024 characters; js-yaml reads longer ones, the `yaml` package reports them. */
const MAX_KEY = 1024;

/** Thrown inside the walk when the file uses something this path leaves to the `yaml` package. */
class Declined extends Error {}

/**
 * The fast path: the tree of a build file from js-yaml's event stream
 * (parseEvents, about ten times faster than the `yaml` package's Document on
 * a 100,000-node file). It covers the YAML build files are written in: block
 * and flow collections, plain, quoted and block scalars, comments. It
 * declines (undefined) whatever it cannot place or the readers must hear
 * about from the `yaml` package: any syntax error, several documents,
 * anchors, aliases and tags, an empty list item or key, a key that is a
 * collection.
 */
export function treeFromEvents(text: string): { root: YamlNode | null } | undefined {
  return declinedAsUndefined(() => ({ root: treeOf(text, { cut: text.length, by: 0 }) }));
}

/** Where a file is cut into pieces (sections.ts); files under 256 KB parse whole: cutting them saves nothing worth the scan. */
export function cutOf(text: string): SectionCut | undefined {
  return text.length > 256 * 1024 ? planSections(text) : undefined;
}

/**
 * A file cut into pieces, read as it is walked: the frame's tree (the file
 * without the long section's tail), the section's pair in it (holding the
 * first entries), and the section's later pieces, each parsed when reached.
 * A reader that visits the entries and lets each piece go keeps none of the
 * pieces' trees alive: on a 100,000-node file the load then holds only what
 * it makes of them.
 */
export interface PiecedTree {
  root: YamlMap;
  section: YamlPair & { value: YamlMap };
  /** The later pieces' mappings, in order; one that does not read as a mapping of entries throws PiecesDeclined. */
  laterPieces(): Generator<YamlMap>;
}

/** A piece of a cut file cannot be read on its own (an open flow or quote across a cut, what the fast path leaves): read the file whole. */
export class PiecesDeclined extends Error {}

/**
 * The frame of a cut file and its later pieces, each read by the piece
 * scanner when it takes it, else by js-yaml; undefined when the frame has no
 * mapping at the section or the fast path declines it.
 */
export function piecesFromEvents(text: string, { keyAt, cutAt, resumeAt, pieces }: SectionCut): PiecedTree | undefined {
  return declinedAsUndefined(() => {
    const root = treeOf(text.slice(0, cutAt) + text.slice(resumeAt), { cut: cutAt, by: resumeAt - cutAt });
    if (root?.kind !== 'map') return undefined;
    const section = root.items.find((p) => p.key.start === keyAt);
    if (section?.value?.kind !== 'map') return undefined;
    const laterPieces = function* (): Generator<YamlMap> {
      for (let i = 0; i < pieces.length; i++) {
        const from = pieces[i]!;
        const to = pieces[i + 1] ?? resumeAt;
        const piece = scanPiece(text, from, to) ?? declinedAsUndefined(() => treeOf(text.slice(from, to), { cut: 0, by: from }));
        if (piece?.kind !== 'map') throw new PiecesDeclined();
        yield piece;
      }
    };
    return { root, section: { key: section.key, value: section.value }, laterPieces };
  });
}

/**
 * The whole tree of a cut file, for readers that need all of it: the later
 * pieces' entries appended to the section's mapping in the frame. Undefined
 * when a piece does not read: the file is then parsed whole.
 */
export function mergePieces(pieced: PiecedTree): { root: YamlNode | null } | undefined {
  const entries = pieced.section.value.items.slice();
  try {
    for (const piece of pieced.laterPieces()) pushAll(entries, piece.items);
  } catch (e) {
    if (e instanceof PiecesDeclined) return undefined;
    throw e;
  }
  const { root, section } = pieced;
  root.items[root.items.findIndex((p) => p.key === section.key)] = { key: section.key, value: { kind: 'map', start: section.value.start, items: entries } };
  return { root };
}

function declinedAsUndefined<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof Declined) return undefined;
    throw e;
  }
}

/** Offsets from `cut` on are `by` further in the file than in the text parsed. */
interface Shift {
  cut: number;
  by: number;
}

/** The tree of `text` (or of a piece of the file, placed by `shift`); Declined when js-yaml cannot read it or the fast path leaves it. */
function treeOf(text: string, shift: Shift): YamlNode | null {
  let events: Event[];
  try {
    events = lib().parseEvents(text, {});
  } catch {
    throw new Declined();
  }
  return build(text, events, shift);
}

/**
 * The tree, each collection made when it closes: its items are then known,
 * and sit in arrays of their exact size. (Pushing into an empty array
 * reserves 17 slots: on a 100,000-node file that was a fifth of the tree's
 * memory, and the collector copied it all.)
 */
function build(text: string, events: Event[], { cut, by }: Shift): YamlNode | null {
  const y = lib();
  const { EVENT_ID, SCALAR_STYLE } = y;
  const place = (offset: number): number => (offset < cut ? offset : offset + by);
  const unplace = (offset: number): number => (offset < cut ? offset : offset - by);
  let documents = 0;
  let root: YamlNode | null = null;
  const open: Open[] = [];
  const values: YamlNode[] = [];
  /** Where the last token seen ends: a block scalar's header is the next token after it. */
  let end = 0;
  /** Whether the next node is a mapping key. */
  const atKey = (top: Open | undefined): boolean => top?.kind === 'map' && (values.length - top.from) % 2 === 0;
  const add = (node: YamlNode): void => {
    if (open.length === 0) root = node;
    else values.push(node);
  };
  for (const ev of events) {
    switch (ev.type) {
      case EVENT_ID.DOCUMENT:
        if (++documents > 1) throw new Declined();
        break;
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE:
        if (ev.anchorStart !== -1 || ev.tagStart !== -1 || atKey(open[open.length - 1])) throw new Declined();
        open.push({ kind: ev.type === EVENT_ID.MAPPING ? 'map' : 'seq', start: place(ev.start), from: values.length });
        end = ev.start + 1;
        break;
      case EVENT_ID.SCALAR: {
        if (ev.anchorStart !== -1 || ev.tagStart !== -1) throw new Declined();
        const top = open[open.length - 1];
        if (ev.valueStart === -1) {
          // An empty document has no root, and an empty value (`key:`) is a pair without one.
          // An empty item or key is left to `yaml`, which places it.
          if (!top) root = null;
          else if (top.kind === 'map' && !atKey(top)) values.push(EMPTY);
          else throw new Declined();
          break;
        }
        const node = scalar(y, text, ev, end, place);
        end = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED ? ev.valueEnd + 1 : ev.valueEnd;
        if (atKey(top) && end - unplace(node.start) > MAX_KEY) throw new Declined();
        add(node);
        break;
      }
      case EVENT_ID.ALIAS:
        throw new Declined();
      case EVENT_ID.POP: {
        const closed = open.pop();
        if (!closed) break; // the document's end
        const items = values.splice(closed.from);
        if (closed.kind === 'seq') {
          add({ kind: 'seq', start: closed.start, items });
          break;
        }
        if (items.length % 2 !== 0) throw new Declined(); // a key without its value: cannot happen in a well-formed stream
        const pairs = new Array<YamlPair>(items.length / 2);
        for (let i = 0; i < pairs.length; i++) {
          const value = items[2 * i + 1]!;
          pairs[i] = { key: items[2 * i]!, value: value === EMPTY ? null : value };
        }
        add({ kind: 'map', start: closed.start, items: pairs });
        break;
      }
    }
  }
  return root;
}

/** Stands in `values` for the missing value of a pair (`key:`). */
const EMPTY: YamlScalar = { kind: 'scalar', start: -1, value: null, empty: true };

function scalar({ SCALAR_STYLE, getScalarValue }: typeof import('js-yaml'), text: string, ev: ScalarEvent, after: number, place: (offset: number) => number): YamlScalar {
  const raw = getScalarValue(text, ev);
  switch (ev.style) {
    case SCALAR_STYLE.PLAIN: {
      const value = resolvePlain(raw);
      const start = place(ev.valueStart);
      return typeof value === 'number' || typeof value === 'boolean' ? { kind: 'scalar', start, value, written: raw } : { kind: 'scalar', start, value };
    }
    case SCALAR_STYLE.SINGLE_QUOTED:
    case SCALAR_STYLE.DOUBLE_QUOTED:
      return { kind: 'scalar', start: place(ev.valueStart - 1), value: raw };
    default:
      return { kind: 'scalar', start: place(blockHeader(text, after)), value: raw };
  }
}

/**
 * Where a block scalar's `|` or `>` is: the event gives only its content,
 * which starts on a later line. Between the previous token and the header
 * there can only be blanks, comments and the indicators `:`, `-`, `?`.
 */
function blockHeader(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '|' || c === '>') return i;
    if (c === '#') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === ':' || c === '-' || c === '?') i++;
    else break;
  }
  throw new Declined();
}
