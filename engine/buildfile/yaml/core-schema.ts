/**
 * How YAML 1.2's core schema reads a plain scalar (spec 10.3.2), written out
 * so the fast path reads `1.0`, `0x1F`, `.inf`, `~` and `True` exactly as the
 * `yaml` package does on the other path (its core tags, in its order); the
 * differential test in test/yaml-parsers.test.ts holds the two together.
 * Anything else is a string.
 */
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** Every core-schema value other than a string starts with one of these. */
const MAY_BE_TYPED = /^[-+.~0-9nNtTfF]|^$/;

const [N, N_UPPER, T, T_UPPER, F, F_UPPER] = [...'nNtTfF'].map((c) => c.charCodeAt(0));

export function resolvePlain(text: string): string | number | boolean | null {
  if (!MAY_BE_TYPED.test(text)) return text;
  // A word starting n/N can only be null, t/T/f/F only a boolean: ids like `n12` skip the number patterns.
  const first = text.charCodeAt(0);
  if (first === N || first === N_UPPER) return NULL.test(text) ? null : text;
  if (first === T || first === T_UPPER || first === F || first === F_UPPER) return BOOL.test(text) ? first === T || first === T_UPPER : text;
  if (NULL.test(text)) return null;
  if (INT_OCT.test(text)) return parseInt(text.slice(2), 8);
  if (INT.test(text)) return parseInt(text, 10);
  if (INT_HEX.test(text)) return parseInt(text.slice(2), 16);
  if (FLOAT_SPECIAL.test(text)) return text.slice(-3).toLowerCase() === 'nan' ? NaN : text[0] === '-' ? -Infinity : Infinity;
  if (FLOAT_EXP.test(text) || FLOAT.test(text)) return parseFloat(text);
  return text;
}
