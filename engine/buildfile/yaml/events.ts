import { createRequire } from 'node:module';
import type { Event, ScalarEvent } from 'js-yaml';
import { resolvePlain } from './core-schema.js';
import type { YamlMap, YamlNode, YamlScalar, YamlSeq } from './tree.js';

const requireHere = createRequire(import.meta.url);
let jsYaml: typeof import('js-yaml') | undefined;
/**
 * js-yaml, loaded when a build file is first parsed (~85 KB the CLI would
 * otherwise compile on every run): a no-op build loads its workspace from the
 * memo. Outside the bundle, as `yaml` is.
 */
const lib = (): typeof import('js-yaml') => (jsYaml ??= requireHere('js-yaml') as typeof import('js-yaml'));

/** A collection being filled, and for a mapping the key still waiting for its value. */
interface Open {
  node: YamlMap | YamlSeq;
  key: YamlNode | undefined;
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
  const { parseEvents } = lib();
  let events: Event[];
  try {
    events = parseEvents(text, {});
  } catch {
    return undefined;
  }
  try {
    return { root: build(text, events) };
  } catch (e) {
    if (e instanceof Declined) return undefined;
    throw e;
  }
}

function build(text: string, events: Event[]): YamlNode | null {
  const y = lib();
  const { EVENT_ID, SCALAR_STYLE } = y;
  let documents = 0;
  let root: YamlNode | null = null;
  const stack: Open[] = [];
  /** Where the last token seen ends: a block scalar's header is the next token after it. */
  let end = 0;
  const add = (node: YamlNode | null): void => {
    const top = stack[stack.length - 1];
    if (!top) {
      root = node;
      return;
    }
    if (top.node.kind === 'seq') {
      if (!node) throw new Declined(); // an empty item: `yaml` places it
      top.node.items.push(node);
    } else if (top.key === undefined) {
      if (!node || node.kind === 'map' || node.kind === 'seq' || end - node.start > MAX_KEY) throw new Declined();
      top.key = node;
    } else {
      top.node.items.push({ key: top.key, value: node });
      top.key = undefined;
    }
  };
  for (const ev of events) {
    switch (ev.type) {
      case EVENT_ID.DOCUMENT:
        if (++documents > 1) throw new Declined();
        break;
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE: {
        if (ev.anchorStart !== -1 || ev.tagStart !== -1) throw new Declined();
        const node: YamlMap | YamlSeq = ev.type === EVENT_ID.MAPPING ? { kind: 'map', start: ev.start, items: [] } : { kind: 'seq', start: ev.start, items: [] };
        add(node);
        stack.push({ node, key: undefined });
        end = ev.start + 1;
        break;
      }
      case EVENT_ID.SCALAR: {
        if (ev.anchorStart !== -1 || ev.tagStart !== -1) throw new Declined();
        if (ev.valueStart === -1) {
          add(null);
          break;
        }
        const node = scalar(y, text, ev, end);
        end = ev.style === SCALAR_STYLE.SINGLE_QUOTED || ev.style === SCALAR_STYLE.DOUBLE_QUOTED ? ev.valueEnd + 1 : ev.valueEnd;
        add(node);
        break;
      }
      case EVENT_ID.ALIAS:
        throw new Declined();
      case EVENT_ID.POP: {
        const closed = stack.pop();
        if (closed?.key !== undefined) throw new Declined(); // cannot happen in a well-formed stream
        break;
      }
    }
  }
  return root;
}

function scalar({ SCALAR_STYLE, getScalarValue }: typeof import('js-yaml'), text: string, ev: ScalarEvent, after: number): YamlScalar {
  const raw = getScalarValue(text, ev);
  switch (ev.style) {
    case SCALAR_STYLE.PLAIN: {
      const value = resolvePlain(raw);
      return typeof value === 'number' || typeof value === 'boolean' ? { kind: 'scalar', start: ev.valueStart, value, written: raw } : { kind: 'scalar', start: ev.valueStart, value };
    }
    case SCALAR_STYLE.SINGLE_QUOTED:
    case SCALAR_STYLE.DOUBLE_QUOTED:
      return { kind: 'scalar', start: ev.valueStart - 1, value: raw };
    default:
      return { kind: 'scalar', start: blockHeader(text, after), value: raw };
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
