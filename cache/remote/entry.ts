import * as v from 'valibot';
import type { ActionEntry } from '../local/action-index.js';
import { entryOutputDigest } from '../local/outputs.js';
import { UntrustedContentError } from './remote.js';

/** An action entry is a small JSON manifest; anything bigger is not one. */
export const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

const DIGEST = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
const SIZE = v.pipe(v.number(), v.integer(), v.minValue(0));
const BLOB = v.strictObject({ digest: DIGEST, size: SIZE });

const ENTRY = v.strictObject({
  outputs: v.array(
    v.strictObject({
      path: v.pipe(v.string(), v.minLength(1)),
      type: v.picklist(['file', 'dir', 'symlink']),
      executable: v.optional(v.boolean()),
      digest: v.optional(DIGEST),
      size: v.optional(SIZE),
      target: v.optional(v.string()),
    }),
  ),
  log: v.nullable(BLOB),
  durationMs: v.pipe(v.number(), v.minValue(0)),
  outputDigest: DIGEST,
  unsealed: v.optional(v.literal(true)),
  undeclared: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
});

/**
 * Parses an action entry received from a remote. Its shape is checked, and
 * its outputDigest must be the digest of its own manifest (and of `key`,
 * for an unsealed entry): dependents hash that digest into their keys, so a
 * remote must not be able to claim one that its outputs do not have. Paths
 * are checked again on restore.
 */
export function parseRemoteEntry(bytes: Buffer, key: string): ActionEntry {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new UntrustedContentError('action entry is not JSON');
  }
  const parsed = v.safeParse(ENTRY, json);
  if (!parsed.success) throw new UntrustedContentError(`action entry is malformed: ${parsed.issues[0].message}`);
  const entry = parsed.output as ActionEntry;
  for (const o of entry.outputs) {
    if (o.type === 'file' && (o.digest === undefined || o.size === undefined)) {
      throw new UntrustedContentError(`action entry file '${o.path}' has no digest`);
    }
    if (o.type === 'symlink' && o.target === undefined) throw new UntrustedContentError(`action entry symlink '${o.path}' has no target`);
  }
  if (entryOutputDigest(entry.outputs, entry.unsealed ? key : undefined) !== entry.outputDigest) {
    throw new UntrustedContentError('action entry outputDigest does not match its outputs');
  }
  return entry;
}
