import { crypto } from '../../lazy-builtins.js';

/** Hex sha256 of a string or bytes: keys, manifests and CAS blob addresses. */
export function sha256Hex(data: string | Uint8Array): string {
  return crypto().createHash('sha256').update(data).digest('hex');
}
