/**
 * How YAML 1.2's core schema reads a plain scalar (spec 10.3.2), written out
 * so the fast path reads `1.0`, `0x1F`, `.inf`, `~` and `True` exactly as the
 * `yaml` package does on the other path (its core tags, in its order); the
 * differential test in test/yaml-parsers.test.ts holds the two together.
 * Anything else is a string.
 */
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

const [N, N_UPPER, T, T_UPPER, F, F_UPPER, PLUS, MINUS, DOT, TILDE, ZERO, NINE] = [...'nNtTfF+-.~09'].map((c) => c.charCodeAt(0));

/**
 * The value of a plain scalar. Words are told apart by their first
 * character and compared whole: two regular expressions a word cost a
 * 100,000-node file 25 ms, and most of its scalars are ids and keys.
 */
export function resolvePlain(text: string): string | number | boolean | null {
  if (text === '') return null;
  const first = text.charCodeAt(0);
  if (first === N || first === N_UPPER) return text === 'null' || text === 'Null' || text === 'NULL' ? null : text;
  if (first === T || first === T_UPPER) return text === 'true' || text === 'True' || text === 'TRUE' ? true : text;
  if (first === F || first === F_UPPER) return text === 'false' || text === 'False' || text === 'FALSE' ? false : text;
  // Every other value than a string starts with a sign, a dot, a tilde or a digit.
  if (first !== PLUS && first !== MINUS && first !== DOT && first !== TILDE && (first < ZERO || first > NINE)) return text;
  if (text === '~') return null;
  if (INT_OCT.test(text)) return parseInt(text.slice(2), 8);
  if (INT.test(text)) return parseInt(text, 10);
  if (INT_HEX.test(text)) return parseInt(text.slice(2), 16);
  if (FLOAT_SPECIAL.test(text)) return text.slice(-3).toLowerCase() === 'nan' ? NaN : text[0] === '-' ? -Infinity : Infinity;
  if (FLOAT_EXP.test(text) || FLOAT.test(text)) return parseFloat(text);
  return text;
}
