import { isGlob } from '../../../cache/local/output-spec.js';
import { escapes, isAbsolute, normalise } from '../paths.js';

/*
 * Script names and output paths as the `--npm` flags and kiln.yaml's
 * `import:` both take them. Apart from config.ts, which reads `import:`
 * from YAML: a workspace without a kiln.yaml never loads the YAML library.
 */

/** npm script names that make readable node ids (`pkg#build:types`). */
export const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** `dist`, `./dist/` name the directory dist; globs (`dist/**`, `!dist/cache/**`) are kept as written, normalised. */
export function outputPath(raw: string): string {
  return isGlob(raw) ? `${raw.startsWith('!') ? '!' : ''}${normalise(raw.replace(/^!/, ''))}` : normalise(raw);
}

/** Why an output path or glob is unusable, or undefined. */
export function outputProblem(raw: string): string | undefined {
  const out = outputPath(raw).replace(/^!/, '');
  if (isAbsolute(raw.replace(/^!/, '')) || escapes(out)) return `output '${raw}' is outside the package dir`;
  if (out === '') return `output '${raw}' is the package dir itself`;
  return undefined;
}
