import os from 'node:os';
import { didYouMean, UserError } from '../../diagnostic.js';
import { chaseRow, ChaseRecord, type ChaseRow } from '../../chase/record.js';
import { quietBuild } from '../../chase/quiet-build.js';
import { firstParentRange, resolveProject, type UpstreamCommit } from '../../chase/upstream.js';
import { openStateDb } from '../../state/state-db.js';
import { parseCommand, MAX_JOBS, positiveInt, resolveCacheDir } from '../args.js';
import { loadForCommand, selectForCommand } from '../workspace.js';
import { rules } from '../../../rules/index.js';
import { remoteFor } from '../build-options.js';

const USAGE = `usage: kiln chase [targets...] [options]

For each git project node, finds the upstream commits not built yet (first
parent from the last chased commit to the head of its ref) and builds the
graph at each of them, recording every (project, commit) result. Running it
again with nothing new upstream does nothing.

  --every-commit        build at every new commit (default)
  --head-only           build only at the new head
  --project ID          chase only this project (repeatable)
  -j, --jobs N          parallel nodes (default: available cores)
  --offline             do not fetch: chase what the mirrors already hold`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'chase',
    argv,
    {
      'every-commit': { type: 'boolean' },
      'head-only': { type: 'boolean' },
      project: { type: 'string', multiple: true },
      jobs: { type: 'string', short: 'j' },
      offline: { type: 'boolean' },
    },
    USAGE,
  );
  if (values['every-commit'] && values['head-only']) throw new UserError([{ message: 'chase: choose --every-commit or --head-only' }]);
  const ws = await loadForCommand(values);
  const selected = selectForCommand(ws, positionals);
  const gitNodes = ws.nodes.filter((n) => rules.get(n.rule)?.upstream);
  for (const p of values.project ?? []) {
    if (!gitNodes.some((n) => n.id === p)) {
      const guess = didYouMean(p, gitNodes.map((n) => n.id));
      throw new UserError([{ message: `chase: no git project node '${p}'`, ...(guess ? { hint: `did you mean '${guess}'?` } : {}) }]);
    }
  }
  const projects = gitNodes.filter((n) => (values.project ?? [n.id]).includes(n.id) && selected.has(n.id));
  if (projects.length === 0) throw new UserError([{ message: 'chase: no git project node in scope', hint: 'declare a node with rule: git' }]);
  const jobs = values.jobs !== undefined ? positiveInt('chase', 'jobs', values.jobs, MAX_JOBS) : os.availableParallelism();
  const cacheDir = resolveCacheDir(values);
  const signal = new AbortController().signal;
  const remote = await remoteFor(ws, {});
  const db = openStateDb(ws.root);
  const record = new ChaseRecord(db);
  try {
    const plan: { project: string; commit: UpstreamCommit }[] = [];
    // While one project moves, the others stay at their last good commit
    // (DLRN's model): a breakage is attributed to the commit that caused it,
    // and does not fail every other project's rows after it.
    const pinned = new Map<string, string>();
    let resolveFailed = false;
    for (const p of projects) {
      const head = await resolveProject(ws, p, { cacheDir, offline: Boolean(values.offline), signal });
      if ('error' in head) {
        process.stdout.write(`kiln chase: ${p.id}: ${head.error}\n`);
        resolveFailed = true;
        continue;
      }
      const last = record.last(p.id);
      pinned.set(p.id, record.lastOk(p.id) ?? head.commit);
      const commits = values['head-only']
        ? last === head.commit
          ? []
          : [{ sha: head.commit, subject: head.subject, time: head.time }]
        : await firstParentRange(head.mirror, last, head.commit);
      for (const commit of commits) plan.push({ project: p.id, commit });
    }
    plan.sort((a, b) => a.commit.time - b.commit.time); // upstream order across projects (stable within one)
    if (plan.length === 0) {
      process.stdout.write(`kiln chase: up to date: nothing new upstream for ${projects.map((p) => p.id).join(', ')}\n`);
      return resolveFailed ? 1 : 0;
    }
    process.stdout.write(`kiln chase: ${plan.length} new upstream commit${plan.length > 1 ? 's' : ''} to build\n`);
    // With nothing recorded for a project, its first row would carry the cold build of every project
    // (the others pinned at their heads): a baseline build comes first, credited to no commit.
    if (projects.some((p) => pinned.has(p.id) && record.last(p.id) === undefined)) {
      // Its own command in history: the chase chart and table are about upstream commits.
      const { summary } = await quietBuild(ws, { selected, overrides: new Map(pinned), jobs, cacheDir, signal, command: 'chase baseline', ...(remote ? { remote } : {}) });
      const count = (status: string) => summary.nodes.filter((n) => n.status === status && n.error !== 'not selected').length;
      process.stdout.write(`baseline (${[...pinned].map(([id, sha]) => `${id} ${sha.slice(0, 10)}`).join(', ')}): ${count('built')} built, ${count('cached')} cached, ${count('failed')} failed\n`);
    }
    const rows: ChaseRow[] = [];
    for (const { project, commit } of plan) {
      const { summary, runId } = await quietBuild(ws, {
        selected,
        overrides: new Map([...pinned, [project, commit.sha]]),
        jobs,
        cacheDir,
        signal,
        command: 'chase',
        ...(remote ? { remote } : {}),
      });
      const row = chaseRow(project, commit.sha, commit.subject, summary, runId ?? null);
      if (row.status === 'ok') pinned.set(project, commit.sha);
      record.add(row);
      rows.push(row);
      process.stdout.write(`${formatRow(row)}\n`);
    }
    process.stdout.write(`\n${formatTable(rows)}`);
    return resolveFailed || rows.some((r) => r.status === 'failed') ? 1 : 0;
  } finally {
    db.close();
  }
}

function formatRow(r: ChaseRow): string {
  return `${r.project} ${r.commit.slice(0, 10)} ${r.status === 'ok' ? 'ok' : 'FAILED'}: ${r.built} built, ${r.cached} cached, ${r.failed} failed  "${r.subject}"`;
}

/** The DLRN-style table: one row per (project, commit), then what failed or was noted. */
export function formatTable(rows: ChaseRow[]): string {
  const header = ['project', 'commit', 'status', 'built', 'cached', 'failed', 'subject'];
  const cells = rows.map((r) => [r.project, r.commit.slice(0, 10), r.status === 'ok' ? 'ok' : 'FAILED', String(r.built), String(r.cached), String(r.failed), r.subject]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  const out = [line(header), line(widths.map((w) => '-'.repeat(w)))];
  for (const [i, r] of rows.entries()) {
    out.push(line(cells[i]!));
    // First lines only: a conflict report is long, the whole of it is in the build log and the record.
    for (const d of r.details) out.push(`    ${d.split('\n')[0]}`);
  }
  return `${out.join('\n')}\n`;
}
