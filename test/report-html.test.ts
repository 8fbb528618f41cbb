// kiln report -o: the HTML report of real runs, opened in Debian's headless
// Chromium (playwright-core drives /usr/bin/chromium).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRuns, loadNodeRuns } from '../engine/state/run-record.js';
import { kiln, tempDir, writeFiles } from './kiln.js';
import { GRAPH } from './report-graph.js';
import { followUpstream, upstreamRepo } from './upstream.js';

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});

/** Opens a report file, recording every request the page makes and every console error. */
async function open(file: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(file).href);
  return { page, requests, errors };
}

async function report(ws: string, args: string[]): Promise<string> {
  const file = path.join(tempDir('kiln-report-'), 'report.html');
  const r = await kiln(ws, ['report', ...args, '-o', file]);
  expect(r.exitCode, r.stderr).toBe(0);
  return file;
}

describe('kiln report -o (HTML, in Chromium)', () => {
  it('draws one rect per node on its lane, the critical path, and one bar per run', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': GRAPH, 'slow.txt': 'one\n' });
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-') };
    // Cold, one input changed, nothing changed, changed again: hit rates 0, 1/4, 4/4, 1/4.
    for (const content of ['one', 'two', 'two', 'three']) {
      writeFiles(ws, { 'slow.txt': `${content}\n` });
      expect((await kiln(ws, ['build', '-j', '2'], env)).exitCode).toBe(0);
    }
    const db = new Database(path.join(ws, '.kiln/state.db'), { readonly: true });
    const runs = listRuns(db, 10).reverse();
    const ran = loadNodeRuns(db, runs[3]!.id).filter((n) => n.status !== 'skipped');
    db.close();
    expect(runs.map((r) => r.cached)).toEqual([0, 1, 4, 1]);

    const file = await report(ws, []);
    const { page, requests, errors } = await open(file);
    expect(await page.title()).toBe(`kiln report: run ${runs[3]!.id} (build)`);
    expect(await page.locator('#hit-ratio dd').textContent()).toBe('25%');

    const rects = page.locator('svg.timeline rect.node');
    expect(await rects.count()).toBe(ran.length);
    expect((await rects.evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).sort()).toEqual(ran.map((n) => n.node).sort());
    const critical = await page.locator('svg.timeline rect.node.critical').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')));
    expect(critical.sort()).toEqual(['join', 'mid', 'slow']);
    // Rendered where the run put them: two worker lanes, and each node of the chain after the one it waits for.
    const box = async (node: string) => (await page.locator(`rect.node[data-node="${node}"]`).boundingBox())!;
    const [slow, mid, join, fast] = [await box('slow'), await box('mid'), await box('join'), await box('fast')];
    expect(mid.x).toBeGreaterThanOrEqual(slow.x + slow.width - 1);
    expect(join.x).toBeGreaterThanOrEqual(mid.x + mid.width - 1);
    // Widths in proportion to the recorded durations (to the 0.1 px the file rounds to).
    const ms = Object.fromEntries(ran.map((n) => [n.node, n.durationMs]));
    const width = async (node: string) => Number(await page.locator(`rect.node[data-node="${node}"]`).getAttribute('width'));
    expect((await width('slow')) / ms.slow!).toBeCloseTo((await width('mid')) / ms.mid!, 2);
    expect(fast.y).not.toBe(slow.y);
    expect(await page.locator('svg.timeline rect.node[data-node="slow"] title').textContent()).toMatch(/^slow \(run\): built, [\d.]+ (ms|s)\n/);
    expect(await page.locator('#slowest tbody tr').count()).toBe(ran.length);
    // Every bar is named in full: inside it, or by a number that the key under the lanes spells out.
    const labels = await page.locator('svg.timeline text.node-label').allTextContents();
    const key = await page.locator('svg.timeline text.key-entry').allTextContents();
    for (const n of ran) {
      const k = key.find((e) => e.endsWith(` ${n.node}`));
      expect(labels.includes(n.node) || (k !== undefined && labels.includes(k.split(' ')[0]!)), `${n.node}: ${labels} / ${key}`).toBe(true);
    }
    expect(labels.join('')).not.toContain('…');
    // No label is drawn over another (Chromium's own text metrics).
    const boxes = await page.locator('svg.timeline text.node-label').evaluateAll((els) => els.map((e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; }));
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) expect(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top).toBe(true);
    }

    const bars = page.locator('svg.history rect.bar');
    expect(await bars.count()).toBe(runs.length);
    expect(await bars.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-run'))))).toEqual(runs.map((r) => r.id));
    expect(await page.locator('svg.history rect.bar.current').getAttribute('data-run')).toBe(String(runs[3]!.id));
    // The hit-rate points: the 4/4 run sits at the top of the plot, the cold one at the bottom.
    const cy = await page.locator('svg.history circle.hit').evaluateAll((els) => els.map((e) => Number(e.getAttribute('cy'))));
    expect(cy).toHaveLength(4);
    expect(Math.min(...cy)).toBe(cy[2]);
    expect(Math.max(...cy)).toBe(cy[0]);
    expect(await page.locator('#chase').count()).toBe(0); // this workspace never chased

    const png = await page.screenshot({ fullPage: true, path: path.join(path.dirname(file), 'report.png') });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(10_000);
    const timeline = await page.locator('svg.timeline').screenshot();
    expect(timeline.subarray(1, 4).toString()).toBe('PNG');
    expect(timeline.length).toBeGreaterThan(1_000);
    expect(requests).toEqual([pathToFileURL(file).href]); // the page itself, nothing else
    expect(errors).toEqual([]);

    // --runs narrows the chart to the newest runs.
    const narrow = await open(await report(ws, ['--runs', '2', String(runs[1]!.id)]));
    expect(await narrow.page.locator('svg.history rect.bar').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-run'))))).toEqual(
      runs.slice(2).map((r) => r.id),
    );
    expect(await narrow.page.locator('svg.timeline rect.node.critical').count()).toBe(3);
  });

  it('shows kiln chase history as a table of upstream commits with their status, escaped', async () => {
    const root = tempDir('kiln-report-chase-');
    const upstream = await upstreamRepo(path.join(root, 'upstream'));
    const shas = [await upstream.commit({ 'value.txt': 'fine\n' }, 'Initial import')];
    const ws = path.join(root, 'ws');
    followUpstream(ws, upstream, 'grep -q fine value.txt');
    const env = { KILN_CACHE_DIR: path.join(root, 'cache') };
    expect((await kiln(ws, ['chase'], env)).exitCode).toBe(0);
    const subjects = ['Make <b>value</b> & "quotes" fine', 'Break the value'];
    shas.push(await upstream.commit({ 'value.txt': 'fine again\n' }, subjects[0]!), await upstream.commit({ 'value.txt': 'broken\n' }, subjects[1]!));
    expect((await kiln(ws, ['chase'], env)).exitCode).toBe(1);

    const { page, requests } = await open(await report(ws, []));
    const rows = page.locator('#chase tbody tr.chase-row');
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-commit')))).toEqual(shas);
    const cells = await rows.evaluateAll((els) => els.map((e) => [...e.querySelectorAll('td')].map((td) => td.textContent)));
    expect(cells.map((c) => [c[0], c[1], c[2], c[3]])).toEqual([
      ['up', shas[0]!.slice(0, 10), 'Initial import', 'ok'],
      ['up', shas[1]!.slice(0, 10), subjects[0], 'ok'],
      ['up', shas[2]!.slice(0, 10), subjects[1], 'failed'],
    ]);
    expect(await page.locator('#chase b').count()).toBe(0); // the subject's markup is text, not markup
    expect(await page.locator('#chase tr.current').getAttribute('data-commit')).toBe(shas[2]); // the reported run's row
    expect(await page.locator('.upstream').textContent()).toBe(`upstream: up ${shas[2]!.slice(0, 10)}`);
    expect(await rows.nth(2).locator('.status.failed').count()).toBe(1);
    expect(await rows.nth(2).locator('.details').textContent()).toContain('check:');
    // The newest chase run is the one reported; the chart shows the three chase runs.
    expect(await page.locator('svg.history rect.bar').count()).toBe(3);
    expect(requests).toHaveLength(1);
  });
});
