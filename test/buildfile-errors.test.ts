import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { afterAll, describe, expect, test } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { positionIn } from '../engine/buildfile/near-pos.js';
import type { NodeDecl, Workspace } from '../engine/buildfile/types.js';
import { formatDiagnostic } from '../engine/diagnostic.js';
import { rules } from '../rules/index.js';
import type { Rule } from '../rules/rule.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (workspace-relative path → text) into a fresh temp dir; returns the root build file. */
function workspace(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-buildfile-'));
  tempDirs.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return path.join(dir, 'kiln.yaml');
}

/** The formatted diagnostics of loading `files`; [] when the workspace is valid. */
function diagnostics(files: Record<string, string>): string[] {
  const loaded = loadWorkspace(workspace(files));
  return loaded.ok ? [] : loaded.diagnostics.map(formatDiagnostic);
}

function load(files: Record<string, string>): Workspace {
  const loaded = loadWorkspace(workspace(files));
  if (!loaded.ok) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\n'));
  return loaded.value;
}

const root = (text: string) => ({ 'kiln.yaml': text });

/** [what is wrong, build files, exact formatted diagnostics]. */
const BROKEN: [string, Record<string, string>, string[]][] = [
  [
    'yaml: unclosed flow sequence',
    root('nodes:\n  a: {rule: run, cmd: [make\n'),
    [
      'kiln.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
      'kiln.yaml:3:1: Flow map in block collection must be sufficiently indented and end with a }',
    ],
  ],
  [
    'yaml: tab indentation',
    root('nodes:\n\ta:\n\t\trule: run\n'),
    [
      'kiln.yaml:2:1: Tabs are not allowed as indentation\n  hint: indent with spaces; YAML does not allow tabs',
      'kiln.yaml:3:1: Tabs are not allowed as indentation\n  hint: indent with spaces; YAML does not allow tabs',
    ],
  ],
  [
    'yaml: nested thousands deep (the parser runs out of stack)',
    root(`nodes: ${'['.repeat(20000)}\n`),
    ['kiln.yaml:1:8: the YAML nests too deeply to read\n  hint: a build file needs a few levels of [ ] and { }, not thousands'],
  ],
  [
    'text: CR-only line endings (YAML would read one line and load no nodes)',
    root('# comment\rnodes:\r  a:\r    rule: run\r    cmd: echo hi\r'),
    ['kiln.yaml:1:10: line ends with CR alone (old Mac line endings): YAML would read the lines after it as part of this one\n  hint: save the file with LF (or CRLF) line endings'],
  ],
  [
    'text: a NUL byte',
    root('nodes:\n  a:\n    rule: run\n    cmd: echo \0hi\n'),
    ['kiln.yaml:4:15: a NUL byte in the build file\n  hint: build files are text; remove it'],
  ],
  [
    'yaml: a NUL character from an escape, in a command',
    root('nodes:\n  a:\n    rule: run\n    cmd: "echo \\0hi"\n'),
    ['kiln.yaml:4:10: a NUL character in a string\n  hint: commands, paths and names cannot hold one: remove the \\0'],
  ],
  [
    'yaml: unclosed quote',
    root('nodes:\n  a:\n    rule: run\n    cmd: "make\n'),
    [
      'kiln.yaml:5:1: Missing closing "quote',
    ],
  ],
  [
    'yaml: two documents',
    root('nodes: {}\n---\nnodes: {}\n'),
    [
      'kiln.yaml:2:1: a build file holds a single YAML document\n  hint: remove the `---` separator',
    ],
  ],
  [
    'duplicate top-level key',
    root('nodes: {}\nnodes: {}\n'),
    [
      "kiln.yaml:2:1: duplicate key 'nodes'\n  hint: first given at kiln.yaml:1:1",
    ],
  ],
  [
    'duplicate key in a node',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    cmd: make all\n'),
    [
      "kiln.yaml:5:5: duplicate key 'cmd'\n  hint: first given at kiln.yaml:4:5",
    ],
  ],
  [
    'top level is a list',
    root('- rule: run\n'),
    [
      'kiln.yaml:1:1: a build file must be a mapping\n  hint: its keys are include, toolchains, nodes, defaults, remote, cobuild, history, bench, import',
    ],
  ],
  [
    'top level is a scalar',
    root('hello\n'),
    [
      'kiln.yaml:1:1: a build file must be a mapping\n  hint: its keys are include, toolchains, nodes, defaults, remote, cobuild, history, bench, import',
    ],
  ],
  [
    'unknown top-level key',
    root('node:\n  a: {rule: run, cmd: make}\n'),
    [
      "kiln.yaml:1:1: unknown key 'node'\n  hint: did you mean 'nodes'?",
    ],
  ],
  [
    'unknown top-level key, nothing close',
    root('targets: {}\n'),
    [
      "kiln.yaml:1:1: unknown key 'targets'\n  hint: valid keys: include, toolchains, nodes, defaults, remote, cobuild, history, bench, import",
    ],
  ],
  [
    'uses: malformed, and naming a node that is not a dependency',
    root('nodes:\n  lib: {rule: run, cmd: make}\n  other: {rule: run, cmd: make}\n  app:\n    rule: run\n    cmd: make\n    deps: [lib]\n    uses: [version, other.version, lib.commit]\n'),
    [
      "kiln.yaml:8:12: 'version' is not <node id>.<name>\n  hint: e.g. `nova.version` for the version published by node nova",
      "kiln.yaml:8:21: 'app' uses 'other.version' but does not depend on 'other'\n  hint: add 'other' to its deps",
    ],
  ],
  [
    'remote: url with credentials, unknown protocol, unknown key',
    root('remote:\n  url: http://me:pw@cache:9090/\n  protocol: gcs\n  tokenEnvv: X\n'),
    [
      'kiln.yaml:2:8: remote url must not contain credentials\n  hint: put the token in an env var named by tokenEnv',
      "kiln.yaml:3:13: unknown remote protocol 'gcs'\n  hint: one of: bazel, turbo",
      "kiln.yaml:4:3: unknown key 'tokenEnvv' in remote\n  hint: did you mean 'tokenEnv'?",
    ],
  ],
  [
    'remote: turbo without team, bad env name, bad timeout',
    root('remote:\n  url: https://turbo.example/\n  protocol: turbo\n  tokenEnv: my-token\n  timeout: -1\n'),
    [
      "kiln.yaml:4:13: 'my-token' is not an env var name",
      'kiln.yaml:5:12: expected a timeout in seconds (a positive number)',
    ],
  ],
  [
    'remote: not a URL, missing url',
    root('remote:\n  url: cache:9090\n'),
    ["kiln.yaml:2:8: remote url 'cache:9090' is not an http(s) URL"],
  ],
  [
    'remote: turbo needs a team',
    root('remote:\n  url: http://turbo:3000/\n  protocol: turbo\n'),
    ['kiln.yaml:1:1: a turbo remote needs a team\n  hint: the Turborepo API namespaces artifacts by team (teamId or slug)'],
  ],
  [
    'nodes is a list',
    root('nodes:\n  - a\n'),
    [
      'kiln.yaml:2:3: expected a mapping of node id to node\n  hint: e.g. `nodes: {gen: {rule: run, cmd: make}}`',
    ],
  ],
  [
    'node is a string',
    root('nodes:\n  a: run\n'),
    [
      "kiln.yaml:2:6: node 'a' must be a mapping\n  hint: e.g. `{rule: run, cmd: make}`",
    ],
  ],
  [
    'node is empty',
    root('nodes:\n  a:\n'),
    [
      "kiln.yaml:2:3: node 'a' must be a mapping\n  hint: e.g. `{rule: run, cmd: make}`",
    ],
  ],
  [
    'invalid node id',
    root('nodes:\n  "bad id": {rule: run, cmd: make}\n  .hidden: {rule: run, cmd: make}\n'),
    [
      "kiln.yaml:2:3: invalid node id 'bad id'\n  hint: ids start with a letter or digit (or @), then letters, digits and . _ : / # -",
      "kiln.yaml:3:3: invalid node id '.hidden'\n  hint: ids start with a letter or digit (or @), then letters, digits and . _ : / # -",
    ],
  ],
  [
    'missing rule',
    root('nodes:\n  a:\n    cmd: make\n'),
    [
      "kiln.yaml:2:3: node 'a' has no 'rule'\n  hint: add `rule: <id>`; known rules: run, git, patches, test, package, bundle, npm-script",
    ],
  ],
  [
    'unknown rule',
    root('nodes:\n  a:\n    rule: rnu\n    cmd: make\n'),
    [
      "kiln.yaml:3:11: unknown rule 'rnu'\n  hint: did you mean 'run'?",
    ],
  ],
  [
    'unknown rule, nothing close',
    root('nodes:\n  a:\n    rule: docker-image\n'),
    [
      "kiln.yaml:3:11: unknown rule 'docker-image'\n  hint: known rules: run, git, patches, test, package, bundle, npm-script",
    ],
  ],
  [
    'rule is not a string',
    root('nodes:\n  a:\n    rule: [run]\n    cmd: make\n'),
    [
      'kiln.yaml:3:11: expected a rule id',
    ],
  ],
  [
    'unknown node key, close to a common key',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    dpes: [b]\n'),
    [
      "kiln.yaml:5:5: unknown key 'dpes' in node 'a'\n  hint: did you mean 'deps'?",
    ],
  ],
  [
    'unknown node key, close to a rule attribute',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    timout: 5\n'),
    [
      "kiln.yaml:5:5: unknown key 'timout' in node 'a'\n  hint: did you mean 'timeout'?",
    ],
  ],
  [
    'unknown node key, nothing close',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    image: alpine\n'),
    [
      "kiln.yaml:5:5: unknown key 'image' in node 'a'\n  hint: valid keys: rule, dir, description, deps, inputs, outputs, env, secretEnv, uses, toolchain, cmd, timeout",
    ],
  ],
  [
    'node keys named like Object.prototype members are unknown keys, not crashes',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    __proto__: 1\n    toString: 2\n'),
    [
      "kiln.yaml:5:5: unknown key '__proto__' in node 'a'\n  hint: valid keys: rule, dir, description, deps, inputs, outputs, env, secretEnv, uses, toolchain, cmd, timeout",
      "kiln.yaml:6:5: unknown key 'toString' in node 'a'\n  hint: valid keys: rule, dir, description, deps, inputs, outputs, env, secretEnv, uses, toolchain, cmd, timeout",
    ],
  ],
  [
    'missing required rule attribute',
    root('nodes:\n  a:\n    rule: run\n'),
    [
      "kiln.yaml:2:3: node 'a' is missing 'cmd', which rule 'run' requires",
    ],
  ],
  [
    'deps is a string',
    root('nodes:\n  a: {rule: run, cmd: make}\n  b:\n    rule: run\n    cmd: make\n    deps: a\n'),
    [
      'kiln.yaml:6:11: expected a list of node ids\n  hint: write `deps: [a]`',
    ],
  ],
  [
    'deps item is a mapping',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    deps: [{id: b}]\n'),
    [
      'kiln.yaml:5:12: expected a node id',
    ],
  ],
  [
    'dep listed twice',
    root('nodes:\n  a: {rule: run, cmd: make}\n  b: {rule: run, cmd: make, deps: [a, a]}\n'),
    [
      "kiln.yaml:3:39: 'a' is listed twice in 'deps'\n  hint: first listed at kiln.yaml:3:36",
    ],
  ],
  [
    'rule attribute of the wrong type',
    root('nodes:\n  a:\n    rule: run\n    cmd: 42\n'),
    [
      'kiln.yaml:4:10: cmd: expected a non-empty string or a non-empty list of strings',
    ],
  ],
  [
    'rule attribute: list with a non-string',
    root('nodes:\n  a:\n    rule: run\n    cmd: [make, {target: all}]\n'),
    [
      'kiln.yaml:4:17: cmd[1]: expected a string',
    ],
  ],
  [
    'rule attribute: empty string',
    root('nodes:\n  a:\n    rule: run\n    cmd: ""\n'),
    [
      'kiln.yaml:4:10: cmd: expected a non-empty string or a non-empty list of strings',
    ],
  ],
  [
    'rule attribute: not an integer',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    timeout: 1.5\n'),
    [
      'kiln.yaml:5:14: timeout: Invalid integer: Received 1.5',
    ],
  ],
  [
    'rule attribute: string for a number',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    timeout: "5"\n'),
    [
      'kiln.yaml:5:14: timeout: Invalid type: Expected number but received "5"',
    ],
  ],
  [
    'rule attribute: empty value',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    timeout:\n'),
    [
      'kiln.yaml:5:5: timeout: Invalid type: Expected number but received null',
    ],
  ],
  [
    'empty description',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    description: ""\n'),
    [
      'kiln.yaml:5:18: expected a string, not an empty string',
    ],
  ],
  [
    'empty rule',
    root('nodes:\n  a:\n    rule: ""\n    cmd: make\n'),
    [
      'kiln.yaml:3:11: expected a rule id, not an empty string',
    ],
  ],
  [
    'duplicate node id in one file',
    root('nodes:\n  a: {rule: run, cmd: make}\n  b: {rule: run, cmd: make}\n  a: {rule: run, cmd: make all}\n'),
    [
      "kiln.yaml:4:3: duplicate node id 'a'\n  hint: first declared at kiln.yaml:2:3",
    ],
  ],
  [
    'duplicate node id across files',
    { 'kiln.yaml': 'include: [lib/kiln.yaml]\nnodes:\n  app: {rule: run, cmd: make}\n', 'lib/kiln.yaml': 'nodes:\n  lib: {rule: run, cmd: make}\n  app: {rule: run, cmd: make}\n' },
    [
      "lib/kiln.yaml:3:3: duplicate node id 'app'\n  hint: first declared at kiln.yaml:3:3",
    ],
  ],
  [
    'unknown dep',
    root('nodes:\n  compile: {rule: run, cmd: make}\n  test:\n    rule: run\n    cmd: make test\n    deps: [compiel]\n'),
    [
      "kiln.yaml:6:12: unknown node 'compiel' in deps of 'test'\n  hint: did you mean 'compile'?",
    ],
  ],
  [
    'unknown dep, nothing close',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    deps: [zzzzzz]\n'),
    [
      "kiln.yaml:5:12: unknown node 'zzzzzz' in deps of 'a'",
    ],
  ],
  [
    'node depends on itself',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    deps: [a]\n'),
    [
      "kiln.yaml:5:12: node 'a' depends on itself",
    ],
  ],
  [
    'dependency cycle',
    root('nodes:\n  a: {rule: run, cmd: make, deps: [b]}\n  b: {rule: run, cmd: make, deps: [c]}\n  c: {rule: run, cmd: make, deps: [a]}\n'),
    [
      'kiln.yaml:4:36: dependency cycle: a -> b -> c -> a\n  hint: remove one of these deps',
    ],
  ],
  [
    'dependency cycle across files',
    { 'kiln.yaml': 'include: [sub/kiln.yaml]\nnodes:\n  app:\n    rule: run\n    cmd: make\n    deps: [lib]\n', 'sub/kiln.yaml': 'nodes:\n  lib:\n    rule: run\n    cmd: make\n    deps: [app]\n' },
    [
      'sub/kiln.yaml:5:12: dependency cycle: app -> lib -> app\n  hint: remove one of these deps',
    ],
  ],
  [
    'output is absolute',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    outputs: [/tmp/out]\n'),
    [
      "kiln.yaml:5:15: output '/tmp/out' is outside the node dir\n  hint: outputs are paths relative to the node dir",
    ],
  ],
  [
    'output escapes the node dir',
    root('nodes:\n  a:\n    rule: run\n    dir: sub\n    cmd: make\n    outputs: [../x, a/../../b]\n'),
    [
      "kiln.yaml:6:15: output '../x' is outside the node dir\n  hint: outputs are paths relative to the node dir",
      "kiln.yaml:6:21: output 'a/../../b' is outside the node dir\n  hint: outputs are paths relative to the node dir",
    ],
  ],
  [
    'output is the node dir',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    outputs: [./]\n'),
    [
      "kiln.yaml:5:15: output './' is the node dir itself\n  hint: list the files or subdirectories the command writes",
    ],
  ],
  [
    'output declared twice',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    outputs: [out, ./out/]\n'),
    [
      "kiln.yaml:5:20: 'out' is listed twice in 'outputs'\n  hint: first listed at kiln.yaml:5:15",
    ],
  ],
  [
    'two nodes declare the same output',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    outputs: [sub/out]\n  b:\n    rule: run\n    dir: sub\n    cmd: make\n    outputs: [out]\n'),
    [
      "kiln.yaml:10:15: output 'sub/out' is also declared by node 'a'\n  hint: declared at kiln.yaml:5:15; a path must belong to one output",
    ],
  ],
  [
    "output inside another node's output",
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    outputs: [dist/gen]\n  b:\n    rule: run\n    cmd: make\n    outputs: [dist]\n'),
    [
      "kiln.yaml:9:15: output 'dist' contains output 'dist/gen' of node 'a'\n  hint: declared at kiln.yaml:5:15; a path must belong to one output",
    ],
  ],
  [
    'output is not a list',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    outputs: {dist: true}\n'),
    [
      'kiln.yaml:5:14: expected a list of output paths',
    ],
  ],
  [
    'invalid glob',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    inputs: ["src/[ab.py"]\n'),
    [
      'kiln.yaml:5:14: invalid glob \'src/[ab.py\': Missing closing: "]" - use "\\\\]" to match literal characters',
    ],
  ],
  [
    'absolute input glob',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    inputs: [/etc/passwd]\n'),
    [
      "kiln.yaml:5:14: input '/etc/passwd' is an absolute path\n  hint: input globs are relative to the node dir",
    ],
  ],
  [
    'input glob escapes the workspace',
    root('nodes:\n  a:\n    rule: run\n    dir: sub\n    cmd: make\n    inputs: ["../shared/*.py", "../../x/**"]\n'),
    [
      "kiln.yaml:6:32: input '../../x/**' is outside the workspace\n  hint: it is relative to the node dir 'sub'",
    ],
  ],
  [
    'input is the node dir',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    inputs: [.]\n'),
    [
      "kiln.yaml:5:14: input '.' is the node dir itself\n  hint: use '**' for every file under it",
    ],
  ],
  [
    'input mapping with an unknown key',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    inputs:\n      - {glob: VERSION, requird: false}\n'),
    [
      "kiln.yaml:6:25: unknown key 'requird' in input\n  hint: did you mean 'required'?",
    ],
  ],
  [
    'input mapping without glob',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    inputs:\n      - {required: false}\n'),
    [
      'kiln.yaml:6:9: input has no \'glob\'\n  hint: write `{glob: "src/**", required: false}`',
    ],
  ],
  [
    'input required is not a boolean',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    inputs:\n      - {glob: VERSION, required: "no"}\n'),
    [
      'kiln.yaml:6:35: expected true or false',
    ],
  ],
  [
    'required exclude pattern',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    inputs:\n      - "src/**"\n      - {glob: "!src/gen/**", required: true}\n'),
    [
      "kiln.yaml:7:9: exclude pattern '!src/gen/**' cannot be required\n  hint: drop `required`",
    ],
  ],
  [
    'dir escapes the workspace',
    root('nodes:\n  a:\n    rule: run\n    dir: a/../..\n    cmd: make\n'),
    [
      "kiln.yaml:4:10: dir 'a/../..' is outside the workspace",
    ],
  ],
  [
    'dir is absolute',
    root('nodes:\n  a:\n    rule: run\n    dir: /srv\n    cmd: make\n'),
    [
      "kiln.yaml:4:10: dir '/srv' is an absolute path\n  hint: it is relative to the build file's directory",
    ],
  ],
  [
    'dir escapes from an included file',
    { 'kiln.yaml': 'include: [sub/kiln.yaml]\n', 'sub/kiln.yaml': 'nodes:\n  a:\n    rule: run\n    dir: ../..\n    cmd: make\n' },
    [
      "sub/kiln.yaml:4:10: dir '../..' is outside the workspace",
    ],
  ],
  [
    'unknown toolchain',
    root('toolchains:\n  python: python3 --version\nnodes:\n  a:\n    rule: run\n    cmd: make\n    toolchain: [pyhton]\n'),
    [
      "kiln.yaml:7:17: unknown toolchain 'pyhton'\n  hint: did you mean 'python'?",
    ],
  ],
  [
    'unknown toolchain, none declared',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    toolchain: [go]\n'),
    [
      "kiln.yaml:5:17: unknown toolchain 'go'\n  hint: declare it under 'toolchains' in the root build file",
    ],
  ],
  [
    'toolchains in an included file',
    { 'kiln.yaml': 'include: [sub/kiln.yaml]\n', 'sub/kiln.yaml': 'toolchains:\n  go: go version\n' },
    [
      'sub/kiln.yaml:1:1: toolchains can only be declared in the root build file\n  hint: move them to the root build file; every node can use them',
    ],
  ],
  [
    'toolchain with a bad name and no command',
    root('toolchains:\n  "py thon": python3 --version\n  go:\n'),
    [
      "kiln.yaml:2:3: invalid toolchain name 'py thon'\n  hint: names start with a letter or digit, then letters, digits and . _ -",
      'kiln.yaml:3:3: expected a command that prints the version',
    ],
  ],
  [
    'invalid env var name',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    env: [1FOO, BAR-BAZ]\n'),
    [
      "kiln.yaml:5:11: '1FOO' is not a valid env var name\n  hint: use letters, digits and `_`, not starting with a digit",
      "kiln.yaml:5:17: 'BAR-BAZ' is not a valid env var name\n  hint: use letters, digits and `_`, not starting with a digit",
    ],
  ],
  [
    'same name in env and secretEnv',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    secretEnv: [TOKEN]\n    env: [HOME, TOKEN]\n'),
    [
      "kiln.yaml:6:17: 'TOKEN' is in both env and secretEnv\n  hint: keep it only in secretEnv, so its value is never hashed in clear",
    ],
  ],
  [
    'include glob matches nothing',
    root('include: ["services/*/kiln.yaml"]\n'),
    [
      "kiln.yaml:1:11: include 'services/*/kiln.yaml' matches no file",
    ],
  ],
  [
    'included file not found',
    root('include:\n  - lib/kiln.yaml\n'),
    [
      "kiln.yaml:2:5: cannot read included file 'lib/kiln.yaml': not found",
    ],
  ],
  [
    'included path is a directory',
    { 'kiln.yaml': 'include: [lib]\n', 'lib/kiln.yaml': '' },
    [
      "kiln.yaml:1:11: cannot read included file 'lib': is a directory\n  hint: include the build file in it, e.g. 'lib/kiln.yaml'",
    ],
  ],
  [
    'include outside the workspace',
    root('include: [../other/kiln.yaml]\n'),
    [
      "kiln.yaml:1:11: include '../other/kiln.yaml' is outside the workspace",
    ],
  ],
  [
    'include is absolute',
    root('include: [/etc/kiln.yaml]\n'),
    [
      "kiln.yaml:1:11: include '/etc/kiln.yaml' is an absolute path\n  hint: includes are relative to this file's directory",
    ],
  ],
  [
    'error in an included file',
    { 'kiln.yaml': 'include: [a/kiln.yaml]\n', 'a/kiln.yaml': 'include: [b/kiln.yaml]\n', 'a/b/kiln.yaml': 'nodes:\n  x:\n    rule: run\n' },
    [
      "a/b/kiln.yaml:2:3: node 'x' is missing 'cmd', which rule 'run' requires",
    ],
  ],
  [
    'unknown alias',
    root('nodes:\n  a:\n    rule: run\n    cmd: make\n    env: *common\n'),
    [
      "kiln.yaml:5:10: unknown alias '*common'\n  hint: define the anchor (`&name`) before using it",
    ],
  ],
  [
    'alias to a list containing itself',
    root('nodes:\n  a:\n    rule: run\n    cmd: &c [make, *c]\n'),
    [
      'kiln.yaml:4:20: an alias may not refer to a collection that contains it',
    ],
  ],
  [
    'non-scalar key',
    root('nodes:\n  ? [a, b]\n  : {rule: run, cmd: make}\n'),
    [
      'kiln.yaml:2:5: keys must be plain names',
    ],
  ],
  [
    'every mistake of a file is reported',
    root('nodes:\n  a:\n    rule: run\n    deps: b\n    outputs: [../x]\n  b:\n    rule: rnu\n  c:\n    rule: run\n    cmd: make\n    env: [lower-case]\n'),
    [
      "kiln.yaml:2:3: node 'a' is missing 'cmd', which rule 'run' requires",
      'kiln.yaml:4:11: expected a list of node ids\n  hint: write `deps: [b]`',
      "kiln.yaml:5:15: output '../x' is outside the node dir\n  hint: outputs are paths relative to the node dir",
      "kiln.yaml:7:11: unknown rule 'rnu'\n  hint: did you mean 'run'?",
      "kiln.yaml:11:11: 'lower-case' is not a valid env var name\n  hint: use letters, digits and `_`, not starting with a digit",
    ],
  ],
];

describe('broken build files', () => {
  test.each(BROKEN)('%s', (_what, files, expected) => {
    expect(diagnostics(files)).toEqual(expected);
  });

  test('an alias chain that doubles at every level converts each collection once (no billion laughs)', () => {
    // 40 levels: expanded, 2^40 items; each collection is converted once and shared, so the load answers at once.
    const levels = Array.from({ length: 40 }, (_, i) => (i === 0 ? '&l0 [x, x]' : `&l${i} [*l${i - 1}, *l${i - 1}]`));
    const found = diagnostics(root(`nodes:\n  a:\n    rule: run\n    cmd: [${levels.join(', ')}]\n`));
    expect(found).toHaveLength(40);
    expect(found[0]).toBe('kiln.yaml:4:15: cmd[0]: expected a string');
  });

  test('a root build file that does not exist', () => {
    const missing = path.join(os.tmpdir(), 'kiln-no-such-dir', 'kiln.yaml');
    const loaded = loadWorkspace(missing);
    expect(loaded.ok ? [] : loaded.diagnostics.map(formatDiagnostic)).toEqual([
      `cannot read build file '${missing}': not found`,
    ]);
  });
});

describe('rule attributes are validated from the rule registry', () => {
  // A rule registered for these tests only, with a nested schema and two required keys.
  const image: Rule = {
    id: 'test-image',
    version: 1,
    description: 'test rule',
    attributes: {
      tag: v.pipe(v.string(), v.regex(/^[a-z]+$/, 'expected a lowercase tag')),
      build: v.object({ args: v.array(v.pipe(v.string(), v.minLength(1))), platform: v.optional(v.string(), 'linux') }),
    },
    required: ['tag', 'build'],
    run: async () => ({ ok: true }),
  };
  const registry = rules as Map<string, Rule>;

  test.each([
    [
      'nested issue mapped to its YAML position',
      'nodes:\n  img:\n    rule: test-image\n    tag: web\n    build:\n      args: [a, ""]\n',
      ["kiln.yaml:6:17: build.args[1]: Invalid length: Expected >=1 but received 0"],
    ],
    [
      'missing required attributes and a custom message',
      'nodes:\n  img:\n    rule: test-image\n    tag: Web\n',
      [
        "kiln.yaml:2:3: node 'img' is missing 'build', which rule 'test-image' requires",
        'kiln.yaml:4:10: tag: expected a lowercase tag',
      ],
    ],
    [
      "another rule's attribute is unknown here",
      'nodes:\n  img:\n    rule: test-image\n    tag: web\n    build: {args: []}\n    cmd: make\n',
      ["kiln.yaml:6:5: unknown key 'cmd' in node 'img'\n  hint: valid keys: rule, dir, description, deps, inputs, outputs, env, secretEnv, uses, toolchain, tag, build"],
    ],
  ])('%s', (_what, text, expected) => {
    registry.set(image.id, image);
    try {
      expect(diagnostics(root(text))).toEqual(expected);
    } finally {
      registry.delete(image.id);
    }
  });

  test('schema defaults are applied', () => {
    registry.set(image.id, image);
    try {
      const ws = load(root('nodes:\n  img: {rule: test-image, tag: web, build: {args: [x]}}\n'));
      expect(ws.nodes[0]!.attrs).toEqual({ tag: 'web', build: { args: ['x'], platform: 'linux' } });
    } finally {
      registry.delete(image.id);
    }
  });

  test("a schema's transform is kept; a value it left as it was is the one read", () => {
    const ws = load(root('nodes:\n  src: {rule: git, url: /r, ref: main, paths: [./lib/, docs]}\n  run: {rule: run, cmd: [make, all]}\n'));
    expect(ws.nodes.map((n) => n.attrs)).toEqual([{ url: '/r', ref: 'main', paths: ['lib', 'docs'] }, { cmd: ['make', 'all'] }]);
  });
});

/** A declaration with the positions inside it made whole. */
function wholePositions(n: NodeDecl) {
  const whole = (p: NodeDecl['deps'][number]['pos']) => positionIn(n.pos, p);
  return {
    ...n,
    deps: n.deps.map((d) => ({ ...d, pos: whole(d.pos) })),
    inputs: n.inputs.map((i) => ({ ...i, pos: whole(i.pos) })),
    uses: n.uses.map((u) => ({ ...u, pos: whole(u.pos) })),
    fieldPos: Object.fromEntries(Object.entries(n.fieldPos).map(([k, p]) => [k, whole(p)])),
  };
}

describe('valid build files', () => {
  const pos = (file: string, line: number, column: number) => ({ file, line, column });

  test('every key, parsed and normalised', () => {
    const ws = load({
      'kiln.yaml': [
        'include:',
        '  - services/*/kiln.yaml',
        'toolchains:',
        '  python: python3 --version',
        'nodes:',
        '  gen:',
        '    rule: run',
        '    description: generate code',
        '    deps: [api:lib]',
        '    inputs:',
        '      - "./src/**/*.py"',
        '      - {glob: VERSION, required: false}',
        '      - "!src/**/test_*.py"',
        '    outputs: [out/gen.txt, ./dist/]',
        '    env: [FOO]',
        '    secretEnv: [TOKEN]',
        '    toolchain: [python]',
        '    cmd: make gen',
        '    timeout: 30',
        '',
      ].join('\n'),
      'services/api/kiln.yaml': 'nodes:\n  api:lib:\n    rule: run\n    dir: ./lib//\n    cmd: [make, lib]\n',
    });
    expect(ws.root).toBe(tempDirs.at(-1));
    expect(ws.files).toEqual(['kiln.yaml', 'services/api/kiln.yaml']);
    expect([...ws.toolchains.values()]).toEqual([{ name: 'python', command: 'python3 --version', pos: pos('kiln.yaml', 4, 3) }]);
    // Positions inside a declaration are held near the node's (near-pos.ts); compared whole.
    expect(ws.nodes.map(wholePositions)).toEqual([
      {
        id: 'gen',
        rule: 'run',
        dir: '',
        description: 'generate code',
        deps: [{ id: 'api:lib', pos: pos('kiln.yaml', 9, 12) }],
        inputs: [
          { glob: 'src/**/*.py', required: true, pos: pos('kiln.yaml', 11, 9) },
          { glob: 'VERSION', required: false, pos: pos('kiln.yaml', 12, 16) },
          { glob: '!src/**/test_*.py', required: false, pos: pos('kiln.yaml', 13, 9) },
        ],
        outputs: ['out/gen.txt', 'dist'],
        env: ['FOO'],
        secretEnv: ['TOKEN'],
        toolchain: ['python'],
        uses: [],
        attrs: { cmd: 'make gen', timeout: 30 },
        pos: pos('kiln.yaml', 6, 3),
        fieldPos: {
          inputs: pos('kiln.yaml', 10, 5),
          outputs: pos('kiln.yaml', 14, 5),
          cmd: pos('kiln.yaml', 18, 5),
          timeout: pos('kiln.yaml', 19, 5),
        },
      },
      {
        id: 'api:lib',
        rule: 'run',
        dir: 'services/api/lib',
        deps: [],
        inputs: [],
        outputs: [],
        env: [],
        secretEnv: [],
        toolchain: [],
        uses: [],
        attrs: { cmd: ['make', 'lib'] },
        pos: pos('services/api/kiln.yaml', 2, 3),
        fieldPos: {
          dir: pos('services/api/kiln.yaml', 4, 5),
          cmd: pos('services/api/kiln.yaml', 5, 5),
        },
      },
    ]);
  });

  test('the node dir defaults to the build file dir; paths stay relative to it', () => {
    const ws = load({
      'kiln.yaml': 'include: [a/kiln.yaml]\n',
      'a/kiln.yaml': 'nodes:\n  x: {rule: run, cmd: make, inputs: ["../shared/**"], outputs: [out]}\n',
    });
    const x = ws.nodes[0]!;
    expect([x.dir, x.inputs[0]!.glob, x.outputs]).toEqual(['a', '../shared/**', ['out']]);
  });

  test('nested includes and include cycles load each file once, breadth-first', () => {
    const ws = load({
      'kiln.yaml': 'include: [a/kiln.yaml, b/kiln.yaml]\nnodes:\n  r: {rule: run, cmd: make}\n',
      'a/kiln.yaml': 'include: [c/kiln.yaml, ../kiln.yaml, ../b/kiln.yaml]\nnodes:\n  a: {rule: run, cmd: make}\n',
      'a/c/kiln.yaml': 'include: [../../*/kiln.yaml]\nnodes:\n  c: {rule: run, cmd: make}\n',
      'b/kiln.yaml': 'nodes:\n  b: {rule: run, cmd: make, deps: [a, c]}\n',
    });
    expect(ws.files).toEqual(['kiln.yaml', 'a/kiln.yaml', 'b/kiln.yaml', 'a/c/kiln.yaml']);
    expect(ws.nodes.map((n) => n.id)).toEqual(['r', 'a', 'b', 'c']);
  });

  test('empty files and empty sections declare nothing', () => {
    expect(load({ 'kiln.yaml': 'include: [sub/kiln.yaml]\nnodes:\n', 'sub/kiln.yaml': '# nothing yet\n' }).nodes).toEqual([]);
  });

  test('names written as numbers keep their spelling', () => {
    const ws = load(root('nodes:\n  1.0: {rule: run, cmd: make}\n  "2": {rule: run, cmd: make, deps: [1.0]}\n'));
    expect(ws.nodes.map((n) => [n.id, n.deps.map((d) => d.id)])).toEqual([
      ['1.0', []],
      ['2', ['1.0']],
    ]);
  });

  test('anchors and aliases share values between nodes', () => {
    const ws = load(root('nodes:\n  a: {rule: run, cmd: &c [make, all], env: &e [CC, CFLAGS]}\n  b: {rule: run, cmd: *c, env: *e}\n'));
    expect(ws.nodes.map((n) => [n.attrs.cmd, n.env])).toEqual([
      [['make', 'all'], ['CC', 'CFLAGS']],
      [['make', 'all'], ['CC', 'CFLAGS']],
    ]);
  });

  test('outputs of different nodes may share a parent dir', () => {
    const ws = load(root('nodes:\n  a: {rule: run, cmd: make, outputs: [dist/a]}\n  b: {rule: run, cmd: make, outputs: [dist/b, dist-b]}\n'));
    expect(ws.nodes.map((n) => n.outputs)).toEqual([['dist/a'], ['dist/b', 'dist-b']]);
  });
});
