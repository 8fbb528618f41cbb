import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { didYouMean, type Diagnostic, type SourcePos } from '../../diagnostic.js';
import { offsetPos } from './json-pos.js';

/** One `"key": value` of a JSON object, with the nodes to point diagnostics at. */
export interface JsonEntry {
  key: string;
  keyNode: Node;
  value: Node;
}

/**
 * A parsed JSONC file (comments and trailing commas allowed, as turbo reads
 * turbo.json) and the lists its mistakes go to, each at file:line:column.
 * The checks return undefined after reporting, so callers read
 * `const xs = file.strings(node, 'outputs'); if (!xs) return;`.
 */
export class JsoncFile {
  private constructor(
    readonly file: string,
    private readonly text: string,
    readonly root: Node,
    readonly errors: Diagnostic[],
    readonly warnings: Diagnostic[],
  ) {}

  /** Parses `text`; a syntax error is reported (at its offset) and gives undefined. */
  static parse(file: string, text: string, errors: Diagnostic[], warnings: Diagnostic[]): JsoncFile | undefined {
    const syntax: ParseError[] = [];
    const root = parseTree(text, syntax, { allowTrailingComma: true, disallowComments: false });
    for (const e of syntax) {
      errors.push({ pos: offsetPos(file, text, e.offset), message: `invalid JSON: ${syntaxMessage(e)}`, hint: 'turbo.json is JSON with comments and trailing commas allowed' });
    }
    if (syntax.length > 0 || root === undefined) {
      if (root === undefined && syntax.length === 0) errors.push({ pos: offsetPos(file, text, 0), message: 'invalid JSON: the file is empty', hint: 'write {}' });
      return undefined;
    }
    return new JsoncFile(file, text, root, errors, warnings);
  }

  pos(node: Node): SourcePos {
    return offsetPos(this.file, this.text, node.offset);
  }

  error(node: Node, message: string, hint?: string): undefined {
    this.errors.push({ pos: this.pos(node), message, ...(hint !== undefined ? { hint } : {}) });
    return undefined;
  }

  warn(node: Node, message: string, hint?: string): void {
    this.warnings.push({ pos: this.pos(node), message, ...(hint !== undefined ? { hint } : {}) });
  }

  /** The entries of an object, or undefined (reported) when `node` is not one; a repeated key is reported. */
  entries(node: Node, label: string): JsonEntry[] | undefined {
    if (node.type !== 'object') return this.error(node, `${label}: expected an object, got ${describe(node)}`);
    const seen = new Set<string>();
    const out: JsonEntry[] = [];
    for (const prop of node.children ?? []) {
      const [keyNode, value] = prop.children ?? [];
      if (!keyNode || !value) continue;
      const key = String(keyNode.value);
      if (seen.has(key)) this.error(keyNode, `${label}: key '${key}' appears twice`, 'JSON keys must be unique: merge the two');
      seen.add(key);
      out.push({ key, keyNode, value });
    }
    return out;
  }

  /** Reports an entry whose key is not one of `known`, with a did-you-mean hint. */
  unknownKey(e: JsonEntry, label: string, known: Iterable<string>): undefined {
    const guess = didYouMean(e.key, known);
    return this.error(e.keyNode, `${label}: unknown key '${e.key}'`, guess ? `did you mean '${guess}'?` : `known keys: ${[...known].join(', ')}`);
  }

  /** A list of strings, each with its node, or undefined (reported). */
  strings(node: Node, label: string): { value: string; node: Node }[] | undefined {
    if (node.type !== 'array') return this.error(node, `${label}: expected a list of strings, got ${describe(node)}`);
    const out: { value: string; node: Node }[] = [];
    let ok = true;
    for (const item of node.children ?? []) {
      if (item.type === 'string') out.push({ value: item.value as string, node: item });
      else ok = this.error(item, `${label}: expected a string, got ${describe(item)}`) ?? false;
    }
    return ok ? out : undefined;
  }

  bool(node: Node, label: string): boolean | undefined {
    if (node.type === 'boolean') return node.value as boolean;
    return this.error(node, `${label}: expected true or false, got ${describe(node)}`);
  }

  string(node: Node, label: string): string | undefined {
    if (node.type === 'string') return node.value as string;
    return this.error(node, `${label}: expected a string, got ${describe(node)}`);
  }
}

const describe = (node: Node): string => (node.type === 'null' ? 'null' : node.type === 'array' || node.type === 'object' ? `an ${node.type}` : `${node.type} ${JSON.stringify(node.value)}`);

const syntaxMessage = (e: ParseError): string =>
  printParseErrorCode(e.error)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
