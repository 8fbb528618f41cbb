import { isMap } from './yaml/tree.js';
import type { YamlNode, YamlScalar } from './yaml/tree.js';
import { rules } from '../../rules/index.js';
import type { Rule } from '../../rules/rule.js';
import type { SourcePos } from '../diagnostic.js';
import type { NodeDecl } from './types.js';
import { suggest } from './hint.js';
import { ENV_NAME, NODE_ID } from './names.js';
import { parseInputs } from './inputs.js';
import { escapes, isAbsolute, joinRel, normalise } from './paths.js';
import { checkRuleAttrs } from './rule-attrs.js';
import { setOwn } from './records.js';
import { findEntry, type Entry, type SourceFile } from './source.js';
import { textList, textValue } from './values.js';
import { mapDefined, NONE } from '../arrays.js';

/** A node declaration plus item positions that only the workspace-wide checks need. */
export interface ParsedNode {
  decl: NodeDecl;
  outputPos: readonly SourcePos[];
  toolchainPos: readonly SourcePos[];
}

/** `<node id>.<name>`; ids may contain dots, names may not. */
const USE_REF = /^@?[A-Za-z0-9][A-Za-z0-9._:/#-]*\.[A-Za-z][A-Za-z0-9_]*$/;

/** Keys read before the others: the rule decides which keys exist, the dir anchors every path. */
const LEADING_KEYS = ['rule', 'dir'];

/**
 * Common keys whose position a build points at (a missing node dir, a
 * traced node that cannot be, outputs inside a tree), kept in `fieldPos`
 * with every rule attribute's. The other keys are checked here, where the
 * tree still holds their place: keeping five positions a node cost a
 * 100,000-node file a tenth of its load.
 */
const POINTED_AT_LATER = ['dir', 'inputs', 'outputs'];

type FieldParser = (file: SourceFile, e: Entry, node: ParsedNode) => void;

/**
 * `env`/`secretEnv`. A name in both would have its value hashed in clear,
 * which `secretEnv` exists to prevent; whichever list comes second reports it.
 */
const envList = (file: SourceFile, e: Entry, other: readonly string[]) =>
  textList(file, e, {
    list: 'a list of env var names',
    item: 'an env var name',
    check: (name, at) => {
      if (!ENV_NAME.test(name)) {
        file.report(at, `'${name}' is not a valid env var name`, 'use letters, digits and `_`, not starting with a digit');
      } else if (other.includes(name)) {
        file.report(at, `'${name}' is in both env and secretEnv`, 'keep it only in secretEnv, so its value is never hashed in clear');
      } else {
        return name;
      }
      return undefined;
    },
  }).map((i) => i.value);

/** Common keys every node may have, whatever its rule. */
const FIELDS: Record<string, FieldParser> = {
  description: (file, e, n) => {
    const text = textValue(file, e.value, e.at, 'a string');
    if (text !== undefined) n.decl.description = text;
  },
  deps: (file, e, n) => {
    n.decl.deps = textList(file, e, { list: 'a list of node ids', item: 'a node id' }).map((i) => ({
      id: i.value,
      pos: file.near(i.at, n.decl.pos),
    }));
  },
  inputs: (file, e, n) => {
    if (file.text(e.value) === 'traced') n.decl.traced = true;
    else n.decl.inputs = parseInputs(file, e, n.decl);
  },
  outputs: (file, e, n) => {
    const items = textList(file, e, {
      list: 'a list of output paths',
      item: 'an output path',
      check: (raw, at) => checkOutput(file, raw, at, n.decl.id),
    });
    n.decl.outputs = items.map((i) => i.value);
    n.outputPos = items.map((i) => file.pos(i.at));
  },
  env: (file, e, n) => {
    n.decl.env = envList(file, e, n.decl.secretEnv);
  },
  secretEnv: (file, e, n) => {
    n.decl.secretEnv = envList(file, e, n.decl.env);
  },
  uses: (file, e, n) => {
    n.decl.uses = textList(file, e, {
      list: 'a list of dependency metadata, e.g. [nova.version]',
      item: 'a dependency metadata name',
      check: (text, at) => {
        if (USE_REF.test(text)) return text;
        file.report(at, `'${text}' is not <node id>.<name>`, 'e.g. `nova.version` for the version published by node nova');
        return undefined;
      },
    }).map((i) => {
      const dot = i.value.lastIndexOf('.');
      return { dep: i.value.slice(0, dot), name: i.value.slice(dot + 1), pos: file.near(i.at, n.decl.pos) };
    });
  },
  toolchain: (file, e, n) => {
    const items = textList(file, e, { list: 'a list of toolchain names', item: 'a toolchain name' });
    n.decl.toolchain = items.map((i) => i.value);
    n.toolchainPos = items.map((i) => file.pos(i.at));
  },
};

const COMMON_KEYS = [...LEADING_KEYS, ...Object.keys(FIELDS)];

/**
 * One `id: {...}` entry of `nodes`. Returns the declaration even when parts
 * of it are wrong (those are reported), so workspace-wide checks still see
 * its id and deps; undefined only when there is no node to speak of.
 */
export function parseNode(file: SourceFile, id: string, idKey: YamlScalar, value: YamlNode | undefined, at: YamlNode): ParsedNode | undefined {
  if (!NODE_ID.test(id)) {
    file.report(idKey, `invalid node id '${id}'`, 'ids start with a letter or digit (or @), then letters, digits and . _ : / # -');
  }
  if (!isMap(value)) {
    file.report(at, `node '${id}' must be a mapping`, 'e.g. `{rule: run, cmd: make}`', id);
    return undefined;
  }
  const entries = file.uniqueEntries(value);
  const rule = ruleOf(file, id, idKey, findEntry(entries, 'rule'));
  const node: ParsedNode = {
    decl: {
      id,
      rule: rule?.id ?? '',
      dir: nodeDir(file, findEntry(entries, 'dir')),
      deps: NONE,
      inputs: NONE,
      outputs: NONE,
      env: NONE,
      secretEnv: NONE,
      toolchain: NONE,
      uses: NONE,
      attrs: {},
      pos: file.pos(idKey),
      fieldPos: {},
    },
    outputPos: NONE,
    toolchainPos: NONE,
  };
  // Each entry is a common field (read here), a rule attribute (kept for checkRuleAttrs) or unknown.
  const attrEntries = mapDefined(entries, (e) => {
    if (POINTED_AT_LATER.includes(e.key)) setOwn(node.decl.fieldPos, e.key, file.near(e.keyNode, node.decl.pos));
    if (LEADING_KEYS.includes(e.key)) return undefined;
    const field = Object.hasOwn(FIELDS, e.key) ? FIELDS[e.key] : undefined;
    if (field) field(file, e, node);
    else if (rule && Object.hasOwn(rule.attributes, e.key)) {
      setOwn(node.decl.fieldPos, e.key, file.near(e.keyNode, node.decl.pos));
      return e;
    }
    // Without a known rule its attributes are unknown too; reporting them would be noise.
    else if (rule) reportUnknownKey(file, e, id, rule);
    return undefined;
  });
  if (rule) node.decl.attrs = checkRuleAttrs(file, rule, id, idKey, attrEntries);
  const inputs = findEntry(entries, 'inputs');
  if (node.decl.traced && rule && !rule.traceable) {
    file.report(inputs!.at, `inputs: traced needs a rule that runs a command; '${rule.id}' runs none kiln can trace`, 'the run and test rules can', id);
  }
  return node;
}

function ruleOf(file: SourceFile, id: string, idKey: YamlScalar, e: Entry | undefined): Rule | undefined {
  if (!e) {
    file.report(idKey, `node '${id}' has no 'rule'`, `add \`rule: <id>\`; ${knownRules()}`, id);
    return undefined;
  }
  const name = textValue(file, e.value, e.at, 'a rule id');
  if (name === undefined) return undefined;
  const rule = rules.get(name);
  if (!rule) file.report(e.at, `unknown rule '${name}'`, suggest(name, rules.keys(), knownRules()), id);
  return rule;
}

const knownRules = () => `known rules: ${[...rules.keys()].join(', ')}`;

/** Workspace-relative node dir: `dir` relative to the build file's dir, or that dir itself. */
function nodeDir(file: SourceFile, e: Entry | undefined): string {
  if (!e) return file.dir;
  const raw = textValue(file, e.value, e.at, 'a directory path');
  if (raw === undefined) return file.dir;
  if (isAbsolute(raw)) {
    file.report(e.at, `dir '${raw}' is an absolute path`, "it is relative to the build file's directory");
    return file.dir;
  }
  const dir = joinRel(file.dir, raw);
  if (escapes(dir)) {
    file.report(e.at, `dir '${raw}' is outside the workspace`);
    return file.dir;
  }
  return dir;
}

function checkOutput(file: SourceFile, raw: string, at: YamlNode, id: string): string | undefined {
  const out = isAbsolute(raw) ? undefined : normalise(raw);
  if (out === undefined || escapes(out)) {
    file.report(at, `output '${raw}' is outside the node dir`, 'outputs are paths relative to the node dir', id);
  } else if (out === '') {
    file.report(at, `output '${raw}' is the node dir itself`, 'list the files or subdirectories the command writes', id);
  } else {
    return out;
  }
  return undefined;
}

function reportUnknownKey(file: SourceFile, e: Entry, id: string, rule: Rule): void {
  file.unknownKey(e, `node '${id}'`, [...COMMON_KEYS, ...Object.keys(rule.attributes)], id);
}
