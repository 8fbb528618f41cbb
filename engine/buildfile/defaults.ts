import { isMap } from './yaml/tree.js';
import { rules } from '../../rules/index.js';
import { suggest } from './hint.js';
import type { ParsedNode } from './node.js';
import type { Entry, SourceFile } from './source.js';

/** Per rule, what its nodes get when they do not say: for now, `inputs: traced`. */
export type RuleDefaults = Map<string, { traced: true }>;

const DEFAULT_KEYS = ['inputs'];

/**
 * The root file's `defaults:` block, by rule id: `defaults: {test: {inputs:
 * traced}}` keys every test node on what it reads unless the node declares
 * its own `inputs`.
 */
export function readDefaults(file: SourceFile, e: Entry): RuleDefaults {
  const out: RuleDefaults = new Map();
  if (!e.value || !isMap(e.value)) {
    file.report(e.at, 'expected a mapping of rule id to defaults', 'e.g. `defaults: {test: {inputs: traced}}`');
    return out;
  }
  for (const r of file.uniqueEntries(e.value)) {
    const rule = rules.get(r.key);
    if (!rule) {
      file.report(r.keyNode, `unknown rule '${r.key}' in defaults`, suggest(r.key, rules.keys(), `known rules: ${[...rules.keys()].join(', ')}`));
      continue;
    }
    if (!r.value || !isMap(r.value)) {
      file.report(r.at, `expected the defaults of rule '${r.key}'`, 'e.g. `{inputs: traced}`');
      continue;
    }
    for (const d of file.uniqueEntries(r.value)) {
      if (!DEFAULT_KEYS.includes(d.key)) {
        file.report(d.keyNode, `'${d.key}' cannot be defaulted`, `defaults can set: ${DEFAULT_KEYS.join(', ')}`);
      } else if (file.text(d.value) !== 'traced') {
        file.report(d.at, 'the only default for inputs is `traced`', 'globs belong to each node: their paths are its own');
      } else if (!rule.traceable) {
        file.report(d.at, `inputs: traced needs a rule that runs a command; '${rule.id}' runs none kiln can trace`, 'the run and test rules can');
      } else {
        out.set(rule.id, { traced: true });
      }
    }
  }
  return out;
}

/** Applies the defaults to the nodes that do not set the key themselves. */
export function applyDefaults(nodes: ParsedNode[], defaults: RuleDefaults): void {
  for (const { decl } of nodes) {
    if (defaults.get(decl.rule)?.traced && decl.fieldPos.inputs === undefined) decl.traced = true;
  }
}
