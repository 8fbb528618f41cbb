import { didYouMean, type Diagnostic, type SourcePos } from '../diagnostic.js';

/** `file:line:col`, for hints that point at another declaration. */
export const formatPos = (p: SourcePos): string => `${p.file}:${p.line}:${p.column}`;

/** "did you mean 'x'?" when a candidate is close enough, else `otherwise`. */
export function suggest(word: string, candidates: Iterable<string>, otherwise?: string): string | undefined {
  const close = didYouMean(word, candidates);
  return close !== undefined ? `did you mean '${close}'?` : otherwise;
}

/** A diagnostic at a build-file position; optional parts are left out rather than set to undefined. */
export function located(pos: SourcePos, message: string, hint?: string, node?: string): Diagnostic {
  return { pos, message, ...(hint ? { hint } : {}), ...(node !== undefined ? { node } : {}) };
}
