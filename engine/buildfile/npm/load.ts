import path from 'node:path';
import { failAll, ok, type Diagnostic, type Result } from '../../diagnostic.js';
import { checkWorkspace } from '../checks.js';
import { adoptNodeIndex } from '../../graph/node-index.js';
import type { LoadTrace } from '../load-trace.js';
import type { Workspace } from '../types.js';
import { located } from '../hint.js';
import { outputPath, outputProblem, SCRIPT_NAME } from './script-outputs.js';
import { flagSource } from './tasks.js';
import { readTurboSource } from './turbo-source.js';
import { importNpmWorkspace } from './import.js';

/**
 * A JS workspace without a kiln.yaml: `kiln build`, or `kiln build --npm
 * build,test [--npm-outputs dist]`. The workspace is the npm, pnpm or yarn
 * workspace whose root package.json is `rootFileAbs`. With a turbo.json
 * there, it configures the tasks (the flag names them; `build` when it
 * does not); without, each script depends on itself upstream (`^build`) and
 * all declare the `--npm-outputs` given. The flags are checked here, on a
 * memo miss only: a memo exists only for flags that loaded fine.
 */
export function npmWorkspaceLoader(scriptsFlag: string | undefined, outputsFlag: string | undefined, strictOutputs: boolean) {
  return (rootFileAbs: string, trace: LoadTrace): Result<Workspace> => {
    const root = path.dirname(rootFileAbs);
    const diagnostics: Diagnostic[] = [];
    const scripts = splitList(scriptsFlag ?? '');
    for (const s of scripts) {
      if (!SCRIPT_NAME.test(s)) diagnostics.push({ message: `--npm: '${s}' is not an npm script name`, hint: 'e.g. --npm build,test' });
    }
    const outputs = splitList(outputsFlag ?? '');
    for (const o of outputs) {
      const problem = outputProblem(o);
      if (problem) diagnostics.push({ message: `--npm-outputs: ${problem}` });
    }
    if (scriptsFlag !== undefined && scripts.length === 0) diagnostics.push({ message: '--npm needs a script name', hint: 'e.g. --npm build' });
    if (diagnostics.length > 0) return failAll(diagnostics);
    const imported = importNpmWorkspace(
      root,
      (packages, d, t) => {
        const turbo = readTurboSource(root, packages, scripts, d, t);
        if (turbo && outputsFlag !== undefined) {
          d.push(located(turbo.pos, '--npm-outputs: turbo.json declares the outputs of each task', 'drop --npm-outputs, or set the outputs in turbo.json'));
        }
        return turbo ?? flagSource(scripts.length > 0 ? scripts : ['build'], outputs.map(outputPath), strictOutputs);
      },
      diagnostics,
      trace,
    );
    const { nodes, places } = checkWorkspace(imported.nodes, new Map(), diagnostics);
    if (diagnostics.length > 0) return failAll(diagnostics);
    const ws: Workspace = { root, files: ['package.json'], nodes, toolchains: new Map(), ...(imported.warnings.length > 0 ? { warnings: imported.warnings } : {}) };
    adoptNodeIndex(ws, places);
    return ok(ws);
  };
}

const splitList = (flag: string): string[] => [...new Set(flag.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
