import type { Diagnostic, SourcePos } from '../../../diagnostic.js';
import { located } from '../../hint.js';
import type { WorkspacePackage } from '../packages.js';
import { mayBeMissing, notLocked, type Edge, type Lock } from './lock.js';

/** One entry of a yarn classic lockfile: the `name@range` keys it resolves, its fields and its dependencies. */
interface Entry {
  keys: string[];
  fields: Map<string, string>;
  deps: { field: string; name: string; range: string; pos: SourcePos }[];
}

/**
 * yarn.lock of yarn classic (v1): entries keyed by every `name@range` that
 * resolved to them, each with `version`, `resolved`, `integrity` and
 * `dependencies` / `optionalDependencies` as `name "range"`. A dependency
 * resolves through the key `name@range`; yarn links a workspace package
 * instead of locking it, so an unlocked name of a workspace package is a
 * link. Nodes are entries, named by their first key.
 */
export function yarnClassicLock(file: string, text: string, packages: WorkspacePackage[], diagnostics: Diagnostic[]): Lock | undefined {
  const entries = parseYarnClassic(file, text, diagnostics);
  if (!entries) return undefined;
  const workspaceNames = new Set(packages.map((p) => p.name));
  return {
    direct(pkg) {
      const edges: Edge[] = [];
      for (const dep of pkg.deps) {
        const entry = entries.get(`${dep.name}@${dep.spec}`);
        if (entry) edges.push([dep.name, entry.keys[0]!]);
        else if (!workspaceNames.has(dep.name) && !mayBeMissing(dep.field)) notLocked(pkg, dep, file, 'yarn install', diagnostics);
      }
      return edges;
    },
    node(key) {
      const entry = entries.get(key)!;
      const name = key.slice(0, key.indexOf('@', 1));
      const label = JSON.stringify([name, entry.fields.get('version') ?? '', entry.fields.get('integrity') ?? entry.fields.get('resolved') ?? '']);
      const deps: Edge[] = [];
      for (const dep of entry.deps) {
        if (dep.field !== 'dependencies' && dep.field !== 'optionalDependencies') continue;
        const target = entries.get(`${dep.name}@${dep.range}`);
        if (target) deps.push([dep.name, target.keys[0]!]);
        else if (!workspaceNames.has(dep.name) && dep.field === 'dependencies') {
          diagnostics.push(located(dep.pos, `'${dep.name}@${dep.range}' has no entry in ${file}`, 'the lockfile is inconsistent: yarn install rewrites it'));
        }
      }
      return { label, deps };
    },
  };
}

/**
 * The entries of a yarn v1 lockfile by each of their keys. The format is
 * yarn's own (not YAML): `key, key:` lines start entries, two-space lines
 * are `field value` or `field:` opening a four-space list of `name value`.
 * Anything else is a diagnostic at its line.
 */
function parseYarnClassic(file: string, text: string, diagnostics: Diagnostic[]): Map<string, Entry> | undefined {
  const entries = new Map<string, Entry>();
  const lines = text.split('\n');
  let entry: Entry | undefined;
  let object: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const body = line.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    const indent = line.length - body.length;
    const pos = { file, line: i + 1, column: indent + 1 };
    const fail = (expected: string): undefined => {
      diagnostics.push(located(pos, `cannot parse ${file}: expected ${expected}`, 'yarn install rewrites it'));
      return undefined;
    };
    if (indent === 0) {
      const keys = body.endsWith(':') ? splitKeys(body.slice(0, -1)) : undefined;
      if (!keys) return fail('an entry\'s "name@range, ...:" line');
      entry = { keys, fields: new Map(), deps: [] };
      for (const key of keys) entries.set(key, entry);
      object = undefined;
      continue;
    }
    const field = fieldLine(body);
    if (!field || !entry || (indent !== 2 && (indent !== 4 || object === undefined))) return fail('"field value" lines indented by two spaces, or four under "field:"');
    if (indent === 2) {
      object = field.value === undefined ? field.key : undefined;
      if (field.value !== undefined) entry.fields.set(field.key, field.value);
    } else if (field.value !== undefined) {
      entry.deps.push({ field: object!, name: field.key, range: field.value, pos });
    } else {
      return fail('"name range" under a field');
    }
  }
  return entries;
}

/** A string token at the start of `s`: JSON-quoted, or unquoted up to whitespace or a comma. */
function token(s: string): { text: string; quoted: boolean; rest: string } | undefined {
  if (!s.startsWith('"')) {
    const text = /^[^\s",]+/.exec(s)?.[0];
    return text === undefined ? undefined : { text, quoted: false, rest: s.slice(text.length) };
  }
  let end = 1;
  while (end < s.length && s[end] !== '"') end += s[end] === '\\' ? 2 : 1;
  if (end >= s.length) return undefined;
  try {
    return { text: JSON.parse(s.slice(0, end + 1)) as string, quoted: true, rest: s.slice(end + 1) };
  } catch {
    return undefined;
  }
}

/** `a@1, "b@npm:c@^2"` as its keys. */
function splitKeys(s: string): string[] | undefined {
  const keys: string[] = [];
  for (let rest = s; ; ) {
    const t = token(rest);
    if (!t) return undefined;
    keys.push(t.text);
    if (t.rest === '') return keys;
    if (!t.rest.startsWith(', ')) return undefined;
    rest = t.rest.slice(2);
  }
}

/** `key value`, `key:` (opening a list) or `"key" value`. */
function fieldLine(s: string): { key: string; value?: string } | undefined {
  const key = token(s);
  if (!key) return undefined;
  if (key.rest === ':' || (!key.quoted && key.rest === '' && key.text.endsWith(':'))) return { key: key.rest === ':' ? key.text : key.text.slice(0, -1) };
  if (!key.rest.startsWith(' ')) return undefined;
  const value = token(key.rest.trimStart());
  return value && value.rest.trim() === '' ? { key: key.text, value: value.text } : undefined;
}
