// Failures are values; their kinds give the build's exit code and one rendering.
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { exitCodeOf, internalFailure, renderFailure, type Failure } from '../engine/failure.js';

const user: Failure = { kind: 'user', diagnostic: { pos: { file: 'kiln.yaml', line: 3, column: 5 }, message: "input 'src/**' matches no file" } };
const command: Failure = { kind: 'command', message: 'command exited with code 2', exitCode: 2 };
const cache: Failure = { kind: 'cache', message: 'storing the outputs failed: ENOSPC' };
const internal: Failure = { kind: 'internal', message: 'boom' };

describe('failures', () => {
  it('render in one place: located user errors, commands as they failed, cache and internal faults named', () => {
    expect([user, command, cache, internal].map(renderFailure)).toEqual([
      "kiln.yaml:3:5: input 'src/**' matches no file",
      'command exited with code 2',
      'cache: storing the outputs failed: ENOSPC',
      'internal error: boom',
    ]);
  });

  it('from an unexpected exception keep its error code, which says more than its message', () => {
    const db = new Database(':memory:');
    let thrown: unknown;
    try {
      db.exec('SELECT * FROM missing');
    } catch (e) {
      thrown = e;
    }
    expect(renderFailure(internalFailure(thrown))).toBe('internal error: no such table: missing (SQLITE_ERROR)');
    const denied = Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: 'EACCES' });
    expect(renderFailure(internalFailure(denied))).toBe("internal error: EACCES: permission denied, open '/x'");
    expect(renderFailure(internalFailure('a thrown string'))).toBe('internal error: a thrown string');
  });

  it('give the exit code: 2 for a build-file mistake, 1 for any other failure or an interrupted build, else 0', () => {
    expect(exitCodeOf([], false)).toBe(0);
    expect(exitCodeOf([], true)).toBe(1);
    expect(exitCodeOf([command], false)).toBe(1);
    expect(exitCodeOf([cache, internal], false)).toBe(1);
    expect(exitCodeOf([command, user, internal], false)).toBe(2);
  });
});
