import fs from 'node:fs';
import path from 'node:path';

/** An include glob and what it matched, so a cached workspace can tell when the file set changed. */
export interface IncludeGlob {
  /** Workspace-relative glob. */
  pattern: string;
  matches: string[];
}

/** What a load read: every file's text, every glob's matches, the files it found absent and the dirs it listed (see snapshot.ts). */
export interface LoadTrace {
  texts: Map<string, string>;
  globs: IncludeGlob[];
  absent: string[];
  dirs: { dir: string; entries: string[] }[];
}

/** A directory's entries, sorted, directories marked with a trailing `/`; none when it cannot be read. */
export function listDir(root: string, rel: string): string[] {
  try {
    return fs
      .readdirSync(path.join(root, rel), { withFileTypes: true })
      .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
      .sort();
  } catch {
    return [];
  }
}

/** The text of a file, or why it cannot be read, in words. */
export function readText(abs: string): { text: string } | { error: string } {
  try {
    return { text: fs.readFileSync(abs, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    return { error: reason };
  }
}

/** The text of workspace-relative `file`, noted in `trace` as read, or as absent (undefined) when it cannot be read. */
export function readTraced(root: string, file: string, trace: LoadTrace): string | undefined {
  const read = readText(path.join(root, file));
  if ('error' in read) {
    trace.absent.push(file);
    return undefined;
  }
  trace.texts.set(file, read.text);
  return read.text;
}
