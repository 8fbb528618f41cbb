import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);
let yamlLib: typeof import('yaml') | undefined;

/**
 * The `yaml` package, loaded on first use (~25 ms of its files): a build file
 * the fast path reads, and an npm or yarn 1 workspace, never need it. Loaded
 * as CommonJS: the bundle leaves `yaml` outside it.
 */
export const yamlLibrary = (): typeof import('yaml') => (yamlLib ??= requireHere('yaml') as typeof import('yaml'));
