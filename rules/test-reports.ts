/**
 * Test result counting for `rule: test`, from JUnit XML and TAP.
 *
 * JUnit XML is read by a small tolerant scanner, not an XML parser (none
 * can be installed, and reports from pytest, stestr/subunit2junitxml, Maven
 * and go-junit-report only need this much). Its limits:
 * - it counts `<testcase>` elements: one with a `<failure>` or `<error>`
 *   child failed, one with a `<skipped>` child (and no failure) was skipped,
 *   any other passed; `<testsuite tests=.. failures=..>` attributes are not
 *   read, so a suite without testcases counts nothing;
 * - a `<failure>`/`<error>` outside any testcase (a suite-level setup error)
 *   counts as one failed test;
 * - comments and CDATA sections are dropped first, so output captured in
 *   `<system-out>` cannot fake an element; attribute values may hold `>`;
 * - namespace prefixes (`<j:testcase>`) are accepted; DTDs, entities and
 *   encodings other than UTF-8 are not interpreted;
 * - a truncated report counts the testcases it has.
 *
 * TAP (versions 12-14) is read line by line:
 * - only unindented `ok` / `not ok` lines count (indented TAP 14 subtests
 *   are summarised by their parent line);
 * - `# SKIP` counts as skipped; `not ok ... # TODO` (an expected failure)
 *   as skipped, `ok ... # TODO` as passed;
 * - `Bail out!` counts one failed test;
 * - when a stream has exactly one plan (`1..N`), tests it announces but
 *   never reports count as failed.
 */

export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export const NO_TESTS: TestCounts = { passed: 0, failed: 0, skipped: 0 };

export function addCounts(a: TestCounts, b: TestCounts): TestCounts {
  return { passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped };
}

export function formatCounts(c: TestCounts): string {
  return `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
}

/** A report file's counts: XML (first non-blank character `<`) is JUnit, anything else TAP. */
export function parseReport(text: string): TestCounts {
  return /^\uFEFF?\s*</.test(text) ? parseJUnit(text) : parseTap(text);
}

/** Start/end/self-closing tags of the elements that matter, with quoted attribute values that may contain `>`. */
const JUNIT_TAG = /<(\/?)(?:[A-Za-z_][\w.-]*:)?(testcase|failure|error|skipped)(?=[\s/>])(?:[^>"']|"[^"]*"|'[^']*')*?(\/?)>/g;

export function parseJUnit(xml: string): TestCounts {
  const text = xml.replace(/<!--[\s\S]*?-->/g, '').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '');
  const counts = { ...NO_TESTS };
  let open: keyof TestCounts | undefined; // outcome of the testcase being read
  for (const [, closing, name, selfClosing] of text.matchAll(JUNIT_TAG)) {
    if (name === 'testcase') {
      if (closing) {
        if (open) counts[open]++;
        open = undefined;
      } else if (selfClosing) {
        counts.passed++;
      } else {
        if (open) counts[open]++; // an unclosed testcase before this one
        open = 'passed';
      }
    } else if (!closing) {
      const outcome = name === 'skipped' ? 'skipped' : 'failed';
      if (open === undefined) {
        if (outcome === 'failed') counts.failed++;
      } else if (open !== 'failed') {
        open = outcome;
      }
    }
  }
  if (open) counts[open]++;
  return counts;
}

const TAP_RESULT = /^(not )?ok(?=\s|$)(.*)$/i;
const TAP_DIRECTIVE = /(?:^|[^\\])#\s*(skip|todo)/i;
const TAP_PLAN = /^1\.\.(\d+)/;

export function parseTap(text: string): TestCounts {
  const counts = { ...NO_TESTS };
  const plans: number[] = [];
  let seen = 0;
  for (const line of text.split(/\r?\n/)) {
    const plan = TAP_PLAN.exec(line);
    if (plan) {
      plans.push(Number(plan[1]));
      continue;
    }
    if (/^Bail out!/i.test(line)) {
      counts.failed++;
      continue;
    }
    const result = TAP_RESULT.exec(line);
    if (!result) continue;
    seen++;
    const notOk = result[1] !== undefined;
    const directive = TAP_DIRECTIVE.exec(result[2]!)?.[1]?.toLowerCase();
    if (directive === 'skip' || (notOk && directive === 'todo')) counts.skipped++;
    else if (notOk) counts.failed++;
    else counts.passed++;
  }
  if (plans.length === 1 && plans[0]! > seen) counts.failed += plans[0]! - seen;
  return counts;
}
