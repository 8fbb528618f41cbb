import type { BenchResult } from './result.js';

export type Verdict = 'ok' | 'faster' | 'regression' | 'noise' | 'new' | 'changed';

export interface ComparisonRow {
  scenario: string;
  /** Null when the baseline has no comparable scenario (verdict new or changed). */
  baselineMs: number | null;
  nowMs: number;
  /** now / baseline medians. */
  ratio: number | null;
  verdict: Verdict;
}

export interface CompareOptions {
  /** A median more than this many percent above the baseline's is a regression. */
  thresholdPct: number;
  /** ... unless the medians differ by less than this many ms. */
  noiseMs: number;
}

export interface Comparison extends CompareOptions {
  baseline: { id: number | null; name: string | null; startedAt: string; gitCommit: string | null };
  rows: ComparisonRow[];
  /** Scenarios that regressed. */
  regressions: string[];
  /** Things worth a warning that do not fail the comparison. */
  warnings: string[];
}

/**
 * Compares the median of each scenario with the baseline's scenario of the
 * same name. A regression is a median above baseline × (1 + threshold) by
 * at least the noise floor: process start jitters by tens of ms, so a 5 ms
 * no-op taking 8 ms is not a finding.
 */
export function compareBenches(baseline: BenchResult, now: BenchResult, opts: CompareOptions): Comparison {
  const factor = 1 + opts.thresholdPct / 100;
  const warnings: string[] = [];
  const rows = now.scenarios.map((s): ComparisonRow => {
    const base = baseline.scenarios.find((b) => b.name === s.name);
    if (!base || base.kind !== s.kind) {
      warnings.push(
        base
          ? `scenario '${s.name}' is ${s.kind} now but was ${base.kind} in the baseline: not compared`
          : `scenario '${s.name}' is not in the baseline: not compared`,
      );
      return { scenario: s.name, baselineMs: null, nowMs: s.medianMs, ratio: null, verdict: base ? 'changed' : 'new' };
    }
    const diff = s.medianMs - base.medianMs;
    const beyond = s.medianMs > base.medianMs * factor ? 'slower' : s.medianMs * factor < base.medianMs ? 'faster' : undefined;
    const verdict: Verdict = beyond === undefined ? 'ok' : Math.abs(diff) < opts.noiseMs ? 'noise' : beyond === 'slower' ? 'regression' : 'faster';
    const ratio = base.medianMs > 0 ? Math.round((s.medianMs / base.medianMs) * 100) / 100 : null;
    return { scenario: s.name, baselineMs: base.medianMs, nowMs: s.medianMs, ratio, verdict };
  });
  for (const b of baseline.scenarios) {
    if (!now.scenarios.some((s) => s.name === b.name)) warnings.push(`baseline scenario '${b.name}' was not run`);
  }
  if (baseline.host.cores !== now.host.cores || baseline.host.cpuModel !== now.host.cpuModel) {
    warnings.push(
      `the baseline ran on another machine (${baseline.host.cores} cores, ${baseline.host.cpuModel}; now ${now.host.cores} cores, ${now.host.cpuModel}): ` +
        'differences may be the machine',
    );
  }
  return {
    ...opts,
    baseline: { id: baseline.id, name: baseline.name, startedAt: baseline.startedAt, gitCommit: baseline.gitCommit },
    rows,
    regressions: rows.filter((r) => r.verdict === 'regression').map((r) => r.scenario),
    warnings,
  };
}
