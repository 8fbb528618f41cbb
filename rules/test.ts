import fs from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import type { Rule, RuleContext, RuleOutcome } from './rule.js';
import { COMMAND_SCHEMA, runProcess, TIMEOUT_SCHEMA } from './run.js';
import { addCounts, formatCounts, NO_TESTS, parseReport, parseTap, type TestCounts } from './test-reports.js';
import { asError, checkTreeDir, GLOB_LIST_SCHEMA, matchGlobs, removeScratch, scratchCopy, scratchDir, scratchLabel, TREE_SCHEMA, treeDep } from './tree.js';

/**
 * Runs a test command against a tree dependency, in a fresh scratch copy of
 * it. A pass is cached like any output (the engine reruns the tests only
 * when what they consume changed); a failure fails the node with its log.
 */
export const testRule: Rule = {
  id: 'test',
  version: 1,
  description: 'Runs tests against a source tree, in a scratch copy of it',
  attributes: {
    cmd: COMMAND_SCHEMA,
    tree: TREE_SCHEMA,
    reports: GLOB_LIST_SCHEMA,
    tap: v.optional(v.boolean(), false),
    retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10)), 0),
    timeout: TIMEOUT_SCHEMA,
  },
  required: ['cmd'],
  traceable: true,
  // Only to check the tree dependency before the key: a mistake there is the build file's.
  async resolve(ctx) {
    const tree = treeDep(ctx);
    return tree.ok ? { ok: true, value: { ingredients: {}, meta: {} } } : tree;
  },
  run: runTests,
};

interface Attempt {
  outcome: { ok: true } | { ok: false; error: string };
  /** Known when the run produced something to count (reports or TAP). */
  counts?: TestCounts;
}

async function runTests(ctx: RuleContext): Promise<RuleOutcome> {
  const tree = treeDep(ctx);
  if (!tree.ok) return asError(tree);
  const notDir = checkTreeDir(tree.value);
  if (notDir) return { ok: false, error: notDir };
  // The command reads a scratch copy: traced, its reads are of the tree it copies.
  return { ...(await testAttempts(ctx, tree.value.dir)), traceAliases: [{ from: scratchDir(ctx), to: tree.value.dir }] };
}

async function testAttempts(ctx: RuleContext, treeDir: string): Promise<RuleOutcome> {
  const attempts = (ctx.node.attrs.retries as number) + 1;
  for (let n = 1; ; n++) {
    const { outcome, counts } = await attempt(ctx, treeDir);
    if (ctx.signal.aborted) return { ok: false, error: 'cancelled' };
    const notes = counts ? [`tests: ${formatCounts(counts)}`] : [];
    if (counts) ctx.log.write('stderr', `kiln: ${notes[0]}\n`);
    if (outcome.ok) {
      await removeScratch(ctx);
      if (n > 1) notes.push(`flaky: passed on attempt ${n} of ${attempts}`);
      return { ok: true, notes };
    }
    if (n === attempts) {
      const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
      return { ok: false, error: `${outcome.error}${tries}; its tree is kept in ${scratchLabel(ctx)}`, notes };
    }
    ctx.log.write('stderr', `kiln: attempt ${n} of ${attempts} failed: ${outcome.error}; retrying\n`);
  }
}

/** One run of the command in a fresh copy of the tree, then its results counted. */
async function attempt(ctx: RuleContext, tree: string): Promise<Attempt> {
  const scratch = await scratchCopy(ctx, tree);
  const tap = ctx.node.attrs.tap as boolean;
  const stdout: Buffer[] = [];
  const outcome = await runProcess(ctx, {
    cmd: ctx.node.attrs.cmd as string | string[],
    cwd: scratch,
    // KILN_NODE_DIR: where declared outputs (e.g. a copied report) are collected from.
    env: { ...ctx.env, KILN_NODE_DIR: ctx.cwd },
    timeoutSeconds: ctx.node.attrs.timeout as number | undefined,
    ...(tap ? { onStdout: (chunk: Buffer) => stdout.push(chunk) } : {}),
  });
  const reports = ctx.node.attrs.reports as string[] | undefined;
  if (!reports && !tap) return { outcome };
  let counts = tap ? parseTap(Buffer.concat(stdout).toString('utf8')) : NO_TESTS;
  if (reports) {
    const found = await matchGlobs(scratch, reports);
    // A run that failed may well have written no report; a pass without one means the globs are wrong.
    if (found.unmatched.length > 0 && outcome.ok) {
      return { outcome: { ok: false, error: `reports: '${found.unmatched[0]}' matches no file in the tested tree` } };
    }
    for (const rel of found.files) counts = addCounts(counts, parseReport(fs.readFileSync(path.join(scratch, rel), 'utf8')));
  }
  if (outcome.ok && counts.failed > 0) {
    return { outcome: { ok: false, error: `the command passed, but ${counts.failed} test${counts.failed > 1 ? 's' : ''} failed` }, counts };
  }
  return { outcome, counts };
}
