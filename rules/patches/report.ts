import fs from 'node:fs';
import path from 'node:path';
import { parseHunks } from './series.js';

/** What a conflict report needs to know about the failed step. */
export interface ConflictInfo {
  patch: { name: string; abs: string; strip: number; mail: boolean; text: string; index: number; total: number };
  seriesRel: string;
  /** Upstream the series was applied to. */
  upstream: { depId: string; commit?: string; subject?: string; url?: string; mirror?: string; treeDir: string };
  /** Patches applied before this one, in order (what the reproduction must apply first). */
  before: { abs: string; strip: number; mail: boolean }[];
  /** Combined output of the failed git am / git apply. */
  gitOutput: string;
  /** Files left unmerged by the 3-way merge (conflict markers in the work tree). */
  unmerged: string[];
  /** The work tree after the failure. */
  workTree: string;
  /** `git apply --check -v` output against the tree before the patch, when there were no conflict markers. */
  checkOutput: string;
}

const MAX_FILES = 10;
const MAX_LINES_PER_FILE = 40;
const MAX_HUNK_LINES = 25;

export const short = (sha: string): string => sha.slice(0, 10);

/**
 * A conflict report a human can act on: which patch, against which
 * upstream commit, where (files and hunks), what git said, and the
 * commands that reproduce it by hand. No stack traces.
 */
export function conflictReport(c: ConflictInfo): string {
  const p = c.patch;
  const up = c.upstream;
  const target = up.commit ? `upstream ${short(up.commit)}${up.subject ? ` "${up.subject}"` : ''}` : `the tree of '${up.depId}'`;
  const lines: string[] = [`patch ${p.name} (${p.index} of ${p.total} in ${c.seriesRel}) does not apply to ${target}`];

  const failed = failedFiles(c.gitOutput + '\n' + c.checkOutput);
  const files = [...new Set([...c.unmerged, ...failed.map((f) => f.file)])];
  if (files.length > 0) lines.push(`conflicting files: ${files.join(', ')}`);

  const hunks = parseHunks(p.text, p.strip);
  const shown = new Set<string>();
  for (const file of c.unmerged.slice(0, MAX_FILES)) {
    const regions = conflictRegions(path.join(c.workTree, file));
    if (regions.length === 0) continue;
    shown.add(file);
    lines.push(`  ${file}: ${regions.length} conflict${regions.length > 1 ? 's' : ''} (the tree's version first, then the patch's)`);
    let budget = MAX_LINES_PER_FILE;
    for (const r of regions) {
      lines.push(`    at line ${r.line}:`);
      for (const l of r.text.slice(0, Math.max(budget, 0))) lines.push(`      ${l}`);
      if (r.text.length > budget) {
        lines.push('      ...');
        break;
      }
      budget -= r.text.length;
    }
  }
  for (const f of failed) {
    if (shown.has(f.file) || shown.size >= MAX_FILES) continue;
    shown.add(f.file);
    lines.push(`  ${f.file}: ${f.reason}`);
    const hunk = f.line === undefined ? undefined : hunks.find((h) => h.file === f.file && h.oldStart === f.line);
    if (hunk) {
      lines.push(`    failing hunk of the patch:`);
      const hl = hunk.text.split('\n');
      for (const l of hl.slice(0, MAX_HUNK_LINES)) lines.push(`      ${l}`);
      if (hl.length > MAX_HUNK_LINES) lines.push('      ...');
    }
  }
  if (files.length > shown.size) lines.push(`  (${files.length - shown.size} more file(s) not shown)`);

  const said = c.gitOutput
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^(hint:|When you have resolved|If you prefer to skip|To restore the original branch)/.test(l))
    .slice(0, 20);
  if (said.length > 0) {
    lines.push(`${p.mail ? 'git am --3way' : 'git apply --3way'} said:`);
    for (const l of said) lines.push(`  ${l}`);
  }

  lines.push('reproduce by hand:');
  if (up.commit) {
    const from = up.url ?? up.mirror ?? '<upstream repository>';
    lines.push(`  git clone ${sh(from)} upstream && cd upstream`);
    lines.push(`  git checkout --detach ${up.commit}`);
  } else {
    lines.push(`  cp -R ${sh(up.treeDir)} upstream && cd upstream`);
    lines.push(`  git init -q && git add -A -f && git commit -qm upstream`);
  }
  for (const b of c.before) lines.push(`  ${applyCommand(b)}`);
  lines.push(`  ${applyCommand({ abs: p.abs, strip: p.strip, mail: p.mail })}`);
  return lines.join('\n');
}

function applyCommand(p: { abs: string; strip: number; mail: boolean }): string {
  const strip = p.strip === 1 ? '' : ` -p${p.strip}`;
  return p.mail
    ? `git am --3way${strip} ${sh(p.abs)}`
    : `git apply --3way${strip} ${sh(p.abs)} && git commit -qm ${sh(path.basename(p.abs))}`;
}

/** Quotes for a POSIX shell when needed. */
function sh(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

interface FailedFile {
  file: string;
  reason: string;
  line?: number;
}

/** Files git named while refusing a patch, from `git am`/`git apply` messages. */
function failedFiles(output: string): FailedFile[] {
  const found = new Map<string, FailedFile>();
  for (const l of output.split('\n')) {
    let m = /^error: patch failed: (.+):(\d+)$/.exec(l);
    if (m) {
      const key = `${m[1]}:${m[2]}`;
      if (!found.has(key)) found.set(key, { file: m[1]!, line: Number(m[2]), reason: `hunk at line ${m[2]} does not apply` });
      continue;
    }
    m = /^error: (.+): (does not exist in index|already exists in (?:index|working directory)|does not match index|No such file or directory|wrong type)$/.exec(l);
    if (m && ![...found.values()].some((f) => f.file === m![1])) found.set(m[1]!, { file: m[1]!, reason: m[2]! });
  }
  return [...found.values()];
}

/** Conflict-marker regions of a file, with the 1-based line of each `<<<<<<<`. */
function conflictRegions(file: string): { line: number; text: string[] }[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const regions: { line: number; text: string[] }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('<<<<<<< ')) continue;
    const start = i;
    while (i < lines.length && !lines[i]!.startsWith('>>>>>>> ')) i++;
    regions.push({ line: start + 1, text: lines.slice(start, i + 1) });
  }
  return regions;
}
