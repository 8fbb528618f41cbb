import type { ActionEntry } from '../local/action-index.js';
import type { LocalCache } from '../local/store.js';

/** A shared cache. Everything it returns is untrusted until verified. */
export interface RemoteCache {
  /** Protocol and URL, without any credential: safe to print. */
  readonly description: string;
  /**
   * Fetches the entry for `key` and every blob it names into `local`, each
   * verified against its digest. Undefined on a miss. Throws RemoteError when
   * the remote cannot be used, UntrustedContentError when it sent bad data.
   */
  download(key: string, local: LocalCache): Promise<ActionEntry | undefined>;
  /** Uploads the blobs of `entry` from `local`, then the entry (never an entry before its blobs). */
  upload(key: string, entry: ActionEntry, local: LocalCache): Promise<void>;
  readonly traffic: { bytesDown: number; bytesUp: number };
}

/** The remote is unreachable, slow or failing: the build goes on without it. */
export class RemoteError extends Error {
  override name = 'RemoteError';
}

/** The remote answered with data that fails verification: discard it, rebuild. */
export class UntrustedContentError extends Error {
  override name = 'UntrustedContentError';
}

/**
 * An artifact not signed with this client's key (turbo's x-artifact-tag):
 * most often the client's key is wrong, not the artifact. It is never used,
 * and nothing is uploaded over it (see RemoteSession).
 */
export class SignatureMismatchError extends UntrustedContentError {
  override name = 'SignatureMismatchError';
}
