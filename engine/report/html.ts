import type { ChaseRow } from '../chase/record.js';
import { formatBytes, formatMs } from './format.js';
import { historySvg } from './history-svg.js';
import type { ReportModel } from './model.js';
import { esc } from './svg.js';
import { timelineSvg } from './timeline-svg.js';
import { formatDistance, formatHitRate, formatStatus, formatTime } from './text.js';

// One file, no network: inline CSS and SVG, system fonts, no script; the CSP
// makes the browser refuse any fetch a future edit might add by mistake.
const STYLE = `
:root { color-scheme: light; --built: #4dabf7; --cached: #ced4da; --failed: #ff8787; --critical: #ff922b; --critical-edge: #d9480f; --upload: #b197fc; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px; color: #212529; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.sub { color: #495057; margin: 0 0 14px; }
.totals { display: flex; flex-wrap: wrap; gap: 10px; margin: 0; }
.totals div { border: 1px solid #dee2e6; border-radius: 6px; padding: 6px 12px; min-width: 120px; }
.totals dt { font-size: 12px; color: #868e96; } .totals dd { margin: 0; font-size: 17px; font-weight: 600; }
svg { max-width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #343a40; }
.lane { fill: #f8f9fa; } .lane.odd { fill: #f1f3f5; } .grid { stroke: #dee2e6; } .axis { stroke: #868e96; }
.node { stroke: #fff; stroke-width: 0.5; } .node.built { fill: var(--built); } .node.cached { fill: var(--cached); }
.node.failed { fill: var(--failed); } .node.critical { fill: var(--critical); stroke: var(--critical-edge); stroke-width: 1.5; }
.upload { fill: var(--upload); } .node-label { pointer-events: none; fill: #212529; } .key-number { font-weight: 600; }
.bound { stroke: var(--critical-edge); stroke-dasharray: 4 3; stroke-width: 1.5; } .run-end { stroke: #212529; stroke-dasharray: 2 3; stroke-width: 1.5; }
.bar { fill: #74c0fc; } .bar.current { fill: #1c7ed6; } .bar.failed { fill: var(--failed); }
.hit-line { fill: none; stroke: #2b8a3e; stroke-width: 2; } .hit { fill: #2b8a3e; stroke: #fff; stroke-width: 1.5; } .hit-tick { fill: #2b8a3e; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; margin: 6px 0 0; padding: 0; list-style: none; font-size: 13px; }
.legend li::before { content: ""; display: inline-block; width: 14px; height: 10px; margin-right: 6px; border-radius: 2px; background: var(--swatch); border: 1px solid var(--edge, transparent); }
.legend .line::before { height: 0; border: 0; border-top: 2px dashed var(--swatch); vertical-align: middle; }
.path { margin: 8px 0 0; }
table { border-collapse: collapse; margin-top: 4px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e9ecef; vertical-align: top; }
th { font-size: 12px; color: #495057; background: #f8f9fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
tr.critical td:first-child { border-left: 4px solid var(--critical); }
.status { font-weight: 600; border-radius: 4px; padding: 1px 8px; }
.status.ok { background: #d3f9d8; color: #2b8a3e; } .status.failed { background: #ffe3e3; color: #c92a2a; }
tr.current td { background: #e7f5ff; }
.upstream { margin-top: 10px; }
.details { margin: 0; padding-left: 16px; font-size: 12px; color: #495057; } .details pre { white-space: pre-wrap; margin: 4px 0; }
`;

/** `kiln report -o FILE`: the whole report as one self-contained HTML page. */
export function htmlReport(m: ReportModel): string {
  const { run, bound } = m;
  const total = (label: string, value: string) => `<div><dt>${esc(label)}</dt><dd>${esc(value)}</dd></div>`;
  const hit = m.hits.ratio === null ? 'n/a' : `${Math.round(m.hits.ratio * 100)}%`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kiln report: run ${run.id} (${esc(run.command)})</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>kiln run ${run.id} <small>(${esc(run.command)})</small></h1>
<p class="sub">started ${esc(formatTime(run.startedAt))} · exit ${run.exitCode} · ${esc(formatDistance(m))}</p>
<dl class="totals">
${total('duration', formatMs(run.durationMs))}
${total('workers', String(run.workers))}
${total('nodes', `${run.built} built · ${run.cached} cached · ${run.failed} failed · ${run.skipped} skipped`)}
<div id="hit-ratio"><dt>cache hit ratio</dt><dd title="${esc(formatHitRate(m.hits))}">${esc(hit)}</dd></div>
${total('critical path', `${formatMs(bound.criticalPathMs)} (${bound.path.length} nodes)`)}
${total('total work', formatMs(bound.totalWorkMs))}
${total('fastest possible', formatMs(bound.lowerBoundMs))}
</dl>
${upstreamList(m)}
</header>
<section id="timeline">
<h2>Timeline</h2>
${timelineSvg(m)}
<ul class="legend">
<li style="--swatch: var(--built)">built</li>
<li style="--swatch: var(--cached)">cached</li>
<li style="--swatch: var(--failed)">failed</li>
<li style="--swatch: var(--critical); --edge: var(--critical-edge)">critical path</li>
<li style="--swatch: var(--upload)">upload</li>
<li class="line" style="--swatch: var(--critical-edge)">fastest possible: the critical path, or the total work shared by the workers, whichever is longer</li>
<li class="line" style="--swatch: #212529">end of run</li>
</ul>
<p class="path">Critical path: ${bound.path.map((p) => `<code>${esc(p.node)}</code> ${esc(formatMs(p.durationMs))}`).join(' → ') || 'none'}</p>
</section>
<section id="slowest">
<h2>Slowest nodes</h2>
${slowestTable(m)}
</section>
<section id="history">
<h2>Build time and hit rate, last ${m.history.length} ${esc(run.command)} run${m.history.length === 1 ? '' : 's'}</h2>
${historySvg(m.history, run.id)}
<ul class="legend">
<li style="--swatch: #74c0fc">duration</li>
<li style="--swatch: #1c7ed6">this run</li>
<li style="--swatch: var(--failed)">failed run</li>
<li style="--swatch: #2b8a3e">cache hit rate</li>
</ul>
</section>
${m.chase.length > 0 ? chaseSection(m.chase, run.id) : ''}
</body>
</html>
`;
}

function upstreamList(m: ReportModel): string {
  if (m.run.upstream.length === 0) return '';
  // A chase pins each project's ref to a commit: the ref is then the commit itself, not worth saying twice.
  const items = m.run.upstream.map(
    (u) =>
      `<code>${esc(u.node)}</code> ${u.ref === u.commit ? '' : `${esc(u.ref)} at `}<code title="${esc(u.commit)}">${esc(u.commit.slice(0, 10))}</code>`,
  );
  return `<p class="sub upstream">upstream: ${items.join(' · ')}</p>`;
}

function slowestTable(m: ReportModel): string {
  if (m.slowest.length === 0) return '<p>No node ran.</p>';
  const rows = m.slowest.map(
    (n) =>
      `<tr${m.critical.has(n.node) ? ' class="critical"' : ''} data-node="${esc(n.node)}"><td><code>${esc(n.node)}</code></td><td>${esc(n.rule)}</td><td>${esc(formatStatus(n))}</td><td class="num">${esc(formatMs(n.durationMs))}</td><td class="num">${esc(formatBytes(n.bytes))}</td><td>${m.critical.has(n.node) ? 'critical path' : ''}</td></tr>`,
  );
  return `<table><thead><tr><th>node</th><th>rule</th><th>status</th><th>duration</th><th>bytes</th><th></th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`;
}

/** DLRN's report page: one row per upstream commit built, in chase order; the reported run's row marked. */
function chaseSection(rows: ChaseRow[], runId: number): string {
  const body = rows.map((r) => {
    const details = r.details.map((d) => {
      const [first, ...rest] = d.split('\n');
      return rest.length > 0
        ? `<li><details><summary>${esc(first!)}</summary><pre>${esc(rest.join('\n'))}</pre></details></li>`
        : `<li>${esc(d)}</li>`;
    });
    return `<tr class="chase-row${r.runId === runId ? ' current' : ''}" data-project="${esc(r.project)}" data-commit="${esc(r.commit)}"><td>${esc(r.project)}</td><td><code title="${esc(r.commit)}">${esc(r.commit.slice(0, 10))}</code></td><td>${esc(r.subject)}</td><td><span class="status ${r.status}">${r.status}</span></td><td class="num">${r.built}</td><td class="num">${r.cached}</td><td class="num">${r.failed}</td><td class="num">${esc(formatMs(r.durationMs))}</td><td>${r.runId ?? ''}</td><td>${details.length > 0 ? `<ul class="details">${details.join('')}</ul>` : ''}</td></tr>`;
  });
  return `<section id="chase">
<h2>Upstream commits (kiln chase)</h2>
<table><thead><tr><th>project</th><th>commit</th><th>subject</th><th>status</th><th>built</th><th>cached</th><th>failed</th><th>duration</th><th>run</th><th>details</th></tr></thead><tbody>
${body.join('\n')}
</tbody></table>
</section>`;
}
