import path from 'node:path';
import { fail, ok, type Diagnostic, type Result } from '../../diagnostic.js';
import { checkWorkspace } from '../checks.js';
import type { LoadTrace } from '../load.js';
import type { Workspace } from '../types.js';
import { defaultImport, outputPath, outputProblem, SCRIPT_NAME } from './config.js';
import { importNpmWorkspace } from './import.js';

/**
 * `kiln build --npm build,test [--npm-outputs dist]`: the workspace is the
 * npm workspace whose root package.json is `rootFileAbs`, with no kiln.yaml.
 * Each script depends on itself upstream (`^build`) and every script
 * declares the same outputs; anything finer needs `import:` in a kiln.yaml.
 * The flags are checked here, on a memo miss only: a memo exists only for
 * flags that loaded fine.
 */
export function npmWorkspaceLoader(scriptsFlag: string, outputsFlag: string | undefined) {
  return (rootFileAbs: string, trace: LoadTrace): Result<Workspace> => {
    const root = path.dirname(rootFileAbs);
    const diagnostics: Diagnostic[] = [];
    const scripts = splitList(scriptsFlag);
    for (const s of scripts) {
      if (!SCRIPT_NAME.test(s)) diagnostics.push({ message: `--npm: '${s}' is not an npm script name`, hint: 'e.g. --npm build,test' });
    }
    const outputs = splitList(outputsFlag ?? '');
    for (const o of outputs) {
      const problem = outputProblem(o);
      if (problem) diagnostics.push({ message: `--npm-outputs: ${problem}` });
    }
    if (scripts.length === 0) diagnostics.push({ message: '--npm needs a script name', hint: 'e.g. --npm build' });
    if (diagnostics.length > 0) return fail(...diagnostics);
    const config = defaultImport(scripts, outputs.map(outputPath), { file: 'package.json', line: 1, column: 1 });
    const parsed = importNpmWorkspace(root, config, diagnostics, trace);
    const nodes = checkWorkspace(parsed, new Map(), diagnostics);
    if (diagnostics.length > 0) return fail(...diagnostics);
    return ok({ root, files: ['package.json'], nodes, toolchains: new Map() });
  };
}

const splitList = (flag: string): string[] => [...new Set(flag.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
