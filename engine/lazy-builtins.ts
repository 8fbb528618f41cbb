import { createRequire } from 'node:module';

/**
 * Node built-ins a no-op build never calls, loaded on first use.
 * node:child_process (which loads net and dgram) and node:crypto cost a
 * bare node process about 5 ms to load, and the modules that use them (the
 * rules, the stores, the key) are all loaded by a build that runs and hashes
 * nothing.
 */
const requireBuiltin = createRequire(import.meta.url);

let childProcessModule: typeof import('node:child_process') | undefined;
let cryptoModule: typeof import('node:crypto') | undefined;

export const childProcess = (): typeof import('node:child_process') => (childProcessModule ??= requireBuiltin('node:child_process') as typeof import('node:child_process'));

export const crypto = (): typeof import('node:crypto') => (cryptoModule ??= requireBuiltin('node:crypto') as typeof import('node:crypto'));
