/** 1-based line and column of offsets into one text; lines break at LF, as YAML's do. */
export class LineIndex {
  private starts: number[] | undefined;
  /** The line index of the last answer: readers ask in file order, so the next is most often on it or just below. */
  private last = 0;

  constructor(private readonly text: string) {}

  /** The 0-based index of the line holding `offset`; `start(i)` is where it begins. */
  lineIndex(offset: number): number {
    // Built on first use: a file that loads cleanly may never be pointed into.
    const starts = (this.starts ??= lineStarts(this.text));
    // Readers ask in file order, a few lines on from the last answer: stepping there beats a search of 400,000 lines.
    let at = this.last;
    if (starts[at]! <= offset) {
      for (let step = 0; step < 8; step++, at++) {
        if (at + 1 === starts.length || starts[at + 1]! > offset) return (this.last = at);
      }
    }
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    this.last = lo;
    return lo;
  }

  start(index: number): number {
    return this.starts![index]!;
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}
