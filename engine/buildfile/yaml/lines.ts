/**
 * 1-based line and column of offsets into one text; lines break at LF, as
 * YAML's do. Readers ask in file order, so an answer is found by counting
 * the line breaks from the last one; only an offset before it (a duplicate
 * key pointing back at the first, a syntax error) has every line start
 * listed, once. A 400,000-line file that loads cleanly is never listed:
 * listing cost it 20 ms and 3 MB the collector copied.
 */
export class LineIndex {
  private starts: number[] | undefined;
  /** The line index of the last answer and where that line starts. */
  private line = 0;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  /** The 0-based index of the line holding `offset`; `start(i)` is where it begins. */
  lineIndex(offset: number): number {
    if (offset >= this.lineStart) {
      const { text } = this;
      let line = this.line;
      let lineStart = this.lineStart;
      for (let eol = text.indexOf('\n', lineStart); eol !== -1 && eol < offset; eol = text.indexOf('\n', eol + 1)) {
        line++;
        lineStart = eol + 1;
      }
      this.line = line;
      this.lineStart = lineStart;
      return line;
    }
    const starts = (this.starts ??= lineStarts(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Where line `index` starts: the last answer's line, or any once every start is listed. */
  start(index: number): number {
    if (index === this.line) return this.lineStart;
    const starts = (this.starts ??= lineStarts(this.text));
    return starts[index]!;
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/**
 * Where the first CR not followed by LF is, or -1: YAML breaks lines at LF,
 * so a CR alone joins what follows to its line. A file with no CR at all,
 * most files, is told by indexOf in a tenth of the search's time.
 */
export function loneCarriageReturn(text: string): number {
  return text.includes('\r') ? text.search(/\r(?!\n)/) : -1;
}
