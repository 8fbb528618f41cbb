/**
 * A plain text table with a rule under the header. `align` has one letter
 * per column, `l` or `r`; by default the first column is left-aligned and
 * the others right-aligned (names, then figures).
 */
export function textTable(header: string[], rows: string[][], align = 'l'): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const left = (i: number) => (align[i] ?? 'r') === 'l';
  const line = (cells: string[]) => cells.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
