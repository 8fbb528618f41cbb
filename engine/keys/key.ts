import { canonicalJson } from './hash/canonical.js';
import { sha256Hex } from './hash/sha256.js';
import { pushAll } from '../arrays.js';

/**
 * Everything a node consumes, as hashed into its key. Kept per node in the
 * workspace state so `kiln why` can diff it against the next build.
 * No absolute path may appear here: two checkouts must share keys.
 */
export interface Ingredients {
  /** Rule id and version, e.g. "run@1". */
  rule: string;
  /** Node dir relative to the workspace root. */
  dir: string;
  attrs: Record<string, unknown>;
  outputs: readonly string[];
  /** Node-dir-relative input path → content digest. */
  inputs: Record<string, string>;
  /** Dependency id → digest of its outputs (not its key: early cutoff). */
  deps: Record<string, string>;
  /** Declared env name → value, null when unset. */
  env: Record<string, string | null>;
  /** Declared secret env name → digest of the value, null when unset. */
  secretEnv: Record<string, string | null>;
  /** Toolchain name → its version output. */
  toolchain: Record<string, string>;
  /** What the rule resolved before the key (e.g. a git tree id, normalised patch digests). */
  resolved: Record<string, unknown>;
  /** Used dependency metadata, `dep.name` → value. */
  uses: Record<string, string>;
  /**
   * `inputs: traced`: `inputs` is what the commands were seen to read, look
   * at, list and miss, workspace-relative (engine/tracing/trace.ts
   * Observation), and `deps` names each dependency without its output
   * digest: what the commands read of its outputs is in `inputs`.
   */
  traced?: true;
}

/**
 * Bumped when what an entry under a key means changes, so no entry written
 * by an older kiln is read under the new meaning. 2: entries of nodes whose
 * outputs may not hold all they wrote are unsealed (see entryOutputDigest).
 */
const KEY_FORMAT = 'kiln-key-2';

export function computeKey(ingredients: Ingredients): string {
  return sha256Hex(`${KEY_FORMAT}\0${canonicalJson(ingredients)}`);
}

/** Digest standing for a secret value: the value itself is never stored or printed. */
export function secretDigest(name: string, value: string): string {
  return sha256Hex(`kiln-secret\0${name}\0${value}`);
}

/** Human-readable differences between two ingredient sets, one line each. */
export function diffIngredients(before: Ingredients, after: Ingredients): string[] {
  const lines: string[] = [];
  if (before.rule !== after.rule) lines.push(`rule changed: ${before.rule} -> ${after.rule}`);
  if (before.dir !== after.dir) lines.push(`node dir changed: '${before.dir}' -> '${after.dir}'`);
  if (canonicalJson(before.attrs) !== canonicalJson(after.attrs)) {
    for (const k of changedKeys(before.attrs, after.attrs)) {
      lines.push(`attribute '${k}' changed: ${show(before.attrs[k])} -> ${show(after.attrs[k])}`);
    }
  }
  if (canonicalJson(before.outputs) !== canonicalJson(after.outputs)) {
    lines.push(`declared outputs changed: ${show(before.outputs)} -> ${show(after.outputs)}`);
  }
  pushAll(lines, after.traced ? diffMap('read path', before.inputs, after.inputs, tracedChange) : diffMap('input file', before.inputs, after.inputs, () => 'content changed'));
  pushAll(lines, diffMap('dependency', before.deps, after.deps, () => 'outputs changed'));
  pushAll(lines, diffMap('env', before.env, after.env, (a, b) => `${show(a)} -> ${show(b)}`));
  pushAll(lines, diffMap('secret env', before.secretEnv, after.secretEnv, () => 'value changed'));
  pushAll(lines, diffMap('toolchain', before.toolchain, after.toolchain, (a, b) => `${show(a)} -> ${show(b)}`));
  pushAll(lines, diffMap('resolved', before.resolved ?? {}, after.resolved, (a, b) => `${show(a)} -> ${show(b)}`));
  pushAll(lines, diffMap('uses', before.uses ?? {}, after.uses, (a, b) => `${show(a)} -> ${show(b)}`));
  return lines;
}

/** A traced path as it was and is (see tracing/trace.ts Observation), in words. */
function tracedChange(before: string, after: string): string {
  const kind = (v: string) => (v.startsWith('file:') ? 'a file' : v.startsWith('listing:') ? 'a listed directory' : v === 'dir' ? 'a directory' : v === 'absent' ? 'absent' : 'something else');
  if (before === 'absent') return `appeared (was looked for and missing; now ${kind(after)})`;
  if (after === 'absent') return 'removed';
  if (before.startsWith('listing:') && after.startsWith('listing:')) return 'entries changed';
  return before.startsWith('file:') && after.startsWith('file:') ? 'content changed' : `was ${kind(before)}, now ${kind(after)}`;
}

function diffMap<V>(
  what: string,
  before: Record<string, V>,
  after: Record<string, V>,
  changed: (a: V, b: V) => string,
): string[] {
  const lines: string[] = [];
  for (const k of changedKeys(before, after)) {
    if (!(k in before)) lines.push(`${what} '${k}' added`);
    else if (!(k in after)) lines.push(`${what} '${k}' removed`);
    else lines.push(`${what} '${k}': ${changed(before[k]!, after[k]!)}`);
  }
  return lines;
}

function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])).sort();
}

function show(v: unknown): string {
  return v === undefined ? '(none)' : v === null ? '(unset)' : JSON.stringify(v);
}
