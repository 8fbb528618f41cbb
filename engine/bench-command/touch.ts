import fs from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from '../state/state-dir.js';

/** What every line kiln bench appends contains, so a leftover is recognisable. */
const MARK = 'kiln bench:';

/** Line comment syntax by file extension; anything not listed gets `#`. */
const COMMENTS: [string[], (text: string) => string][] = [
  [
    ['c', 'h', 'cc', 'cpp', 'cxx', 'hh', 'hpp', 'hxx', 'm', 'mm', 'js', 'mjs', 'cjs', 'jsx', 'ts', 'mts', 'cts', 'tsx',
      'go', 'rs', 'java', 'kt', 'kts', 'scala', 'swift', 'cs', 'dart', 'zig', 'proto', 'groovy', 'gradle', 'php', 'v', 'sv'],
    (t) => `// ${t}`,
  ],
  [['css', 'scss', 'less'], (t) => `/* ${t} */`],
  [['html', 'htm', 'xml', 'svg', 'md', 'markdown', 'vue', 'xhtml'], (t) => `<!-- ${t} -->`],
  [['sql', 'lua', 'hs', 'elm', 'ada', 'adb', 'ads'], (t) => `-- ${t}`],
  [['el', 'lisp', 'clj', 'cljs', 'scm', 'asm', 's', 'ini'], (t) => `; ${t}`],
  [['tex', 'sty', 'erl', 'hrl'], (t) => `% ${t}`],
];
/** Formats in which no appended line is harmless. */
const NO_COMMENTS = ['json', 'ipynb', 'lock'];

const extension = (file: string) => path.extname(file).slice(1).toLowerCase();

/** Why a file cannot be touched by appending a comment line, if it cannot. */
export function untouchable(file: string): string | undefined {
  return NO_COMMENTS.includes(extension(file)) ? `${extension(file)} files have no comment syntax` : undefined;
}

/** The comment line kiln bench appends to `file` (newline included). */
export function touchLine(file: string, text: string): string {
  const ext = extension(file);
  const comment = COMMENTS.find(([exts]) => exts.includes(ext))?.[1] ?? ((t: string) => `# ${t}`);
  return `${comment(`${MARK} ${text}`)}\n`;
}

/**
 * Touches files for incremental scenarios: appends a comment line, so the
 * content (and every key consuming it) changes, then puts the original bytes
 * back. The original is also copied under .kiln/bench-touched/ before the
 * first change, so a bench killed mid-way (kill -9, power loss) loses
 * nothing: the next `kiln bench` puts it back (see recoverLeftovers).
 */
export class Toucher {
  private readonly originals = new Map<string, Buffer>();
  private readonly backupDir: string;

  constructor(private readonly root: string) {
    this.backupDir = path.join(root, STATE_DIR, 'bench-touched');
  }

  /** Appends `text` as a comment line to the workspace-relative `file`. */
  touch(file: string, text: string): void {
    const abs = path.join(this.root, file);
    let original = this.originals.get(file);
    if (!original) {
      original = fs.readFileSync(abs);
      const backup = path.join(this.backupDir, file);
      fs.mkdirSync(path.dirname(backup), { recursive: true });
      fs.writeFileSync(`${backup}.tmp`, original);
      fs.renameSync(`${backup}.tmp`, backup);
      this.originals.set(file, original);
    }
    const sep = original.length > 0 && original[original.length - 1] !== 0x0a ? '\n' : '';
    fs.writeFileSync(abs, Buffer.concat([original, Buffer.from(sep + touchLine(file, text))]));
  }

  /** Puts every touched file's original bytes back and drops the backups. */
  restoreAll(): void {
    for (const [file, original] of this.originals) {
      fs.writeFileSync(path.join(this.root, file), original);
      fs.rmSync(path.join(this.backupDir, file), { force: true });
    }
    this.originals.clear();
    fs.rmSync(this.backupDir, { recursive: true, force: true });
  }

  /**
   * Backups an interrupted bench left: each file that is still its backup
   * plus one kiln bench line is put back (`restored`); a file changed since
   * is left alone and its backup kept (`kept`), for the user to resolve.
   */
  recoverLeftovers(): { restored: string[]; kept: string[] } {
    const restored: string[] = [];
    const kept: string[] = [];
    if (!fs.existsSync(this.backupDir)) return { restored, kept };
    for (const entry of fs.readdirSync(this.backupDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.endsWith('.tmp')) continue;
      const backup = path.join(entry.parentPath, entry.name);
      const file = path.relative(this.backupDir, backup).split(path.sep).join('/');
      const original = fs.readFileSync(backup);
      const abs = path.join(this.root, file);
      const current = fs.existsSync(abs) ? fs.readFileSync(abs) : undefined;
      if (current && current.equals(original)) {
        fs.rmSync(backup);
      } else if (current && isTouched(original, current)) {
        fs.writeFileSync(abs, original);
        fs.rmSync(backup);
        restored.push(file);
      } else {
        kept.push(file);
      }
    }
    if (kept.length === 0) fs.rmSync(this.backupDir, { recursive: true, force: true });
    return { restored, kept };
  }

  /** Where the backup of a file lives (for messages). */
  backupOf(file: string): string {
    return path.relative(this.root, path.join(this.backupDir, file));
  }
}

/** `current` is `original` plus exactly one line kiln bench appended. */
function isTouched(original: Buffer, current: Buffer): boolean {
  if (current.length <= original.length || !current.subarray(0, original.length).equals(original)) return false;
  const added = current.subarray(original.length).toString('utf8').replace(/^\n/, '');
  return added.endsWith('\n') && !added.slice(0, -1).includes('\n') && added.includes(MARK);
}
