import { setOwn } from './records.js';
import { nearPos, type NearPos } from './near-pos.js';
import type { Diagnostic, SourcePos } from '../diagnostic.js';
import { formatPos, located, suggest } from './hint.js';
import { treeFromDocument, type DocumentParse } from './yaml/document.js';
import { cutOf, mergePieces, piecesFromEvents, treeFromEvents } from './yaml/events.js';
import { LineIndex, loneCarriageReturn } from './yaml/lines.js';
import { isAlias, isMap, isScalar, isSeq } from './yaml/tree.js';
import type { YamlMap, YamlNode, YamlScalar } from './yaml/tree.js';
import { dropRepeats, mapDefined, pushAll } from '../arrays.js';

/** One `key: value` of a YAML mapping whose key is text. */
export interface Entry {
  key: string;
  keyNode: YamlScalar;
  /** The value, aliases resolved; undefined when empty (`key:`) or an unknown alias. */
  value: YamlNode | undefined;
  /** Where to point at the value: the value itself, or the key when the value is empty. */
  at: YamlNode;
}

/** Rewordings of YAML parser errors whose own text leaves users guessing or talks about the library's API. */
const SYNTAX_HELP: Record<string, { message?: string; hint: string }> = {
  TAB_AS_INDENT: { hint: 'indent with spaces; YAML does not allow tabs' },
  MULTIPLE_DOCS: { message: 'a build file holds a single YAML document', hint: 'remove the `---` separator' },
};

/**
 * A parsed build file and the means to point into it. Every check reports
 * into the shared `diagnostics` list, so one pass finds all mistakes of a file.
 * The tree comes from js-yaml's event stream when that path takes the file
 * (yaml/events.ts), else from the `yaml` package, which also words every
 * syntax error.
 */
export class SourceFile {
  /** The document's root; null for a file of comments or nothing. */
  readonly root: YamlNode | null;
  /** Set when YAML syntax errors make the tree unreliable; later checks would only add noise. */
  readonly broken: boolean;
  private readonly lines: LineIndex;
  /** A large file's streamed section (see `stream`): its mapping in the tree, and its later entries, piece by piece. */
  private readonly later: { map: YamlMap; pieces: () => Iterable<YamlMap> } | undefined;
  /** Whether strings may hold a NUL (from an escape): then each piece is checked as it is read. */
  private readonly escapes: boolean;

  constructor(
    /** Workspace-relative posix path of the file. */
    readonly rel: string,
    /** Workspace-relative posix directory of the file ('' for the root). */
    readonly dir: string,
    text: string,
    private readonly diagnostics: Diagnostic[],
    /**
     * The top-level key whose entries a large file may hand out piece by
     * piece (`forEachEntry`), never holding the whole section's tree. Only
     * `forEachEntry` sees them: the section's mapping in `root` holds its
     * first entries only. Without it the file is parsed whole (the loader's
     * second reading, after a piece could not be read alone).
     */
    stream?: string,
  ) {
    this.lines = new LineIndex(text);
    const textErrors = this.checkText(text);
    const cut = textErrors || stream === undefined ? undefined : cutOf(text);
    const pieced = cut ? piecesFromEvents(text, cut) : undefined;
    const streamed = pieced && this.text(pieced.section.key) === stream ? pieced : undefined;
    // Each way is tried once: a frame or piece that does not read sends the file to the whole parse, then to `yaml`.
    const fast = textErrors ? undefined : (streamed ?? (pieced && mergePieces(pieced)) ?? treeFromEvents(text));
    if (fast) {
      this.root = fast.root;
      this.broken = false;
    } else {
      const parsed = treeFromDocument(text);
      this.root = parsed.root;
      this.reportSyntax(text, parsed);
      this.broken = parsed.errors.length > 0 || textErrors;
    }
    this.later = streamed ? { map: streamed.section.value, pieces: streamed.laterPieces } : undefined;
    // A NUL in a string can only come from an escape (a raw NUL is refused above), and escapes start with a backslash.
    this.escapes = !this.broken && text.includes('\\');
    if (this.escapes) this.checkStrings(this.root);
  }

  /**
   * Visits the entries of `map` (see `entries`). For the section a large
   * file streams, it goes on with the entries of each later piece, parsed
   * as it is reached and dropped once visited; a piece that cannot be read
   * alone throws PiecesDeclined, and the caller reads the file again with
   * nothing streamed.
   */
  forEachEntry(map: YamlMap, visit: (e: Entry) => void): void {
    for (const e of this.entries(map)) visit(e);
    if (map !== this.later?.map) return;
    for (const piece of this.later.pieces()) {
      if (this.escapes) this.checkStrings(piece);
      for (const e of this.entries(piece)) visit(e);
    }
  }

  private reportSyntax(text: string, parsed: DocumentParse): void {
    const overflow = parsed.errors.find((e) => /call stack/i.test(e.message));
    if (overflow) {
      // The parser gave up deep inside nested [ or {: its own message (and what follows from it) says nothing useful.
      // Located at the start of the run of openers it died in: where the parser gave up depends on the stack left.
      let start = Math.min(overflow.offset, text.length - 1);
      while (start > 0 && /[[{\s:a-zA-Z]/.test(text[start - 1]!) && text[start - 1] !== '\n') start--;
      while (start < overflow.offset && !/[[{]/.test(text[start]!)) start++;
      this.reportAt(this.posAt(start), 'the YAML nests too deeply to read', 'a build file needs a few levels of [ ] and { }, not thousands');
    } else {
      for (const e of parsed.errors) {
        const help = SYNTAX_HELP[e.code];
        this.reportAt(this.posAt(e.offset), help?.message ?? e.message, help?.hint);
      }
    }
    for (const w of parsed.warnings) this.reportAt(this.posAt(w.offset), w.message);
  }

  /**
   * What YAML reads differently from what the text shows: CR-only line
   * endings (YAML breaks lines at LF, so an old-Mac file is one comment
   * line, or one scalar, and loads no nodes at all) and NUL bytes. Located
   * errors, never a different graph.
   */
  private checkText(text: string): boolean {
    const lone = loneCarriageReturn(text);
    if (lone !== -1) {
      this.reportAt(this.posAt(lone), 'line ends with CR alone (old Mac line endings): YAML would read the lines after it as part of this one', 'save the file with LF (or CRLF) line endings');
      return true;
    }
    const nul = text.indexOf('\0');
    if (nul !== -1) {
      this.reportAt(this.posAt(nul), 'a NUL byte in the build file', 'build files are text; remove it');
      return true;
    }
    return false;
  }

  /** A string value with a NUL character (YAML's "\0" escape) cannot be a command, path or id: located here, not a failure later. */
  private checkStrings(root: YamlNode | null): void {
    const work: YamlNode[] = root ? [root] : [];
    for (let node = work.pop(); node; node = work.pop()) {
      if (isMap(node)) for (const p of node.items) work.push(p.key, ...(p.value ? [p.value] : []));
      else if (isSeq(node)) pushAll(work, node.items);
      else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('\0')) this.report(node, 'a NUL character in a string', 'commands, paths and names cannot hold one: remove the \\0');
    }
  }

  private posAt(offset: number): SourcePos {
    const i = this.lines.lineIndex(offset);
    return { file: this.rel, line: i + 1, column: offset - this.lines.start(i) + 1 };
  }

  pos(node: YamlNode): SourcePos {
    return this.posAt(node.start);
  }

  /** Where `node` is, near `anchor` (the position of the node declaration it is in): see near-pos.ts. */
  near(node: YamlNode, anchor: SourcePos): NearPos {
    const i = this.lines.lineIndex(node.start);
    return nearPos(this.rel, i + 1, node.start - this.lines.start(i) + 1, anchor);
  }

  report(at: YamlNode, message: string, hint?: string, node?: string): void {
    this.reportAt(this.pos(at), message, hint, node);
  }

  private reportAt(pos: SourcePos, message: string, hint?: string, node?: string): void {
    this.diagnostics.push(located(pos, message, hint, node));
  }

  /** Reports a key of the mapping `where` names that is none of `known`, with the nearest valid one. */
  unknownKey(e: Entry, where: string, known: readonly string[], node?: string): void {
    this.report(e.keyNode, `unknown key '${e.key}' in ${where}`, suggest(e.key, known, `valid keys: ${known.join(', ')}`), node);
  }

  /** The node an alias stands for (reporting unknown aliases); empty scalars count as absent. */
  deref(node: YamlNode | null | undefined): YamlNode | undefined {
    if (!node) return undefined;
    if (isAlias(node)) {
      if (!node.target) this.report(node, `unknown alias '*${node.name}'`, 'define the anchor (`&name`) before using it');
      return node.target;
    }
    return isScalar(node) && node.empty ? undefined : node;
  }

  /**
   * Text of a scalar: strings as they are, and plain numbers/booleans as written,
   * so `1.0` as a name stays "1.0". Undefined for anything else.
   */
  text(node: YamlNode | undefined): string | undefined {
    if (!isScalar(node)) return undefined;
    if (typeof node.value === 'string') return node.value;
    return node.written;
  }

  /** The value a path of mapping keys and list indexes leads to from `node`, aliases followed; undefined where the path ends. */
  descend(node: YamlNode | undefined, path: readonly (string | number)[]): YamlNode | undefined {
    let at = this.deref(node);
    for (const step of path) {
      if (isMap(at)) at = this.deref(at.items.find((p) => this.text(p.key) === String(step))?.value);
      else if (isSeq(at) && typeof step === 'number') at = this.deref(at.items[step]);
      else return undefined;
    }
    return at;
  }

  /** Entries of a mapping with text keys; other keys are reported and skipped. */
  entries(map: YamlMap): Entry[] {
    return mapDefined(map.items, ({ key: keyNode, value: raw }) => {
      const key = this.text(keyNode);
      if (key === undefined || !isScalar(keyNode)) {
        this.report(keyNode, 'keys must be plain names');
        return undefined;
      }
      const value = this.deref(raw);
      return { key, keyNode, value, at: value && raw ? raw : keyNode };
    });
  }

  /** `entries`, reporting a key given twice at the second occurrence. */
  uniqueEntries(map: YamlMap): Entry[] {
    return dropRepeats(
      this.entries(map),
      (e) => e.key,
      (e, earlier) => this.report(e.keyNode, `duplicate key '${e.key}'`, `first given at ${formatPos(this.pos(earlier.keyNode))}`),
    );
  }

  /**
   * Plain JS value of a YAML node, for schema validation. Aliases are
   * converted once and shared, so anchors cannot blow up exponentially, and a
   * collection containing itself is reported instead of looping.
   */
  toPlain(node: YamlNode, memo: PlainMemo = { made: undefined }): { ok: true; value: unknown } | { ok: false } {
    const value = this.plain(node, memo);
    return value === FAILED ? { ok: false } : { ok: true, value };
  }

  /**
   * `toPlain`'s walk; FAILED after reporting. Collections are remembered
   * only once an alias was met (`memo.made` is made then): a collection can
   * be reached twice, or contain itself, only through one, and most values
   * of a build file have none (a Map per value cost every node of a large
   * file). A collection that contains itself is then converted once more
   * before its alias finds it in progress.
   */
  private plain(node: YamlNode, memo: PlainMemo): unknown {
    let target: YamlNode | undefined = node;
    if (isAlias(node)) {
      target = this.deref(node);
      if (!target) return FAILED; // an unknown alias, already reported
      memo.made ??= new Map();
    }
    if (isScalar(target)) return target.value;
    if (memo.made?.has(target)) {
      const value = memo.made.get(target);
      if (value !== IN_PROGRESS) return value;
      this.report(node, 'an alias may not refer to a collection that contains it');
      return FAILED;
    }
    memo.made?.set(target, IN_PROGRESS);
    let value: unknown;
    if (isSeq(target)) {
      const items = new Array<unknown>(target.items.length);
      for (let i = 0; i < items.length; i++) {
        const item = this.plain(target.items[i]!, memo);
        if (item === FAILED) return FAILED;
        items[i] = item;
      }
      value = items;
    } else if (isMap(target)) {
      const record: Record<string, unknown> = {};
      for (const e of this.uniqueEntries(target)) {
        const item = e.value ? this.plain(e.value, memo) : null;
        if (item === FAILED) return FAILED;
        setOwn(record, e.key, item);
      }
      value = record;
    }
    memo.made?.set(target, value);
    return value;
  }
}

/** What `plain` returns after reporting why a value has no plain form. */
const FAILED = Symbol('failed');
const IN_PROGRESS = Symbol('in progress');

/** The entry of `entries` with key `key`: a loop, where a closure per call would cost every node of a large file. */
export function findEntry(entries: readonly Entry[], key: string): Entry | undefined {
  for (const e of entries) if (e.key === key) return e;
  return undefined;
}

/** Collections `toPlain` converted, shared by the calls of one conversion; made at the first alias (see `plain`). */
export interface PlainMemo {
  made: Map<YamlNode, unknown> | undefined;
}
