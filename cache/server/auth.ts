import { createHash, timingSafeEqual } from 'node:crypto';

export type Access = 'read-write' | 'read-only';

export interface Tokens {
  readWrite: string[];
  readOnly: string[];
}

/**
 * Bearer-token check. Only sha256 digests of the tokens are kept and
 * compared: equal-length buffers make timingSafeEqual applicable whatever the
 * presented token's length, and every configured token is compared on every
 * request, so the time taken says nothing about which one (if any) matched.
 */
export class Auth {
  private readonly digests: { digest: Buffer; access: Access }[];

  constructor(tokens: Tokens) {
    this.digests = [
      ...tokens.readWrite.map((t) => ({ digest: sha256(t), access: 'read-write' as const })),
      ...tokens.readOnly.map((t) => ({ digest: sha256(t), access: 'read-only' as const })),
    ];
  }

  /** No token configured: every client may read and write. */
  get open(): boolean {
    return this.digests.length === 0;
  }

  /** The access an `Authorization` header grants, or null (missing, malformed, unknown token). */
  check(header: string | undefined): Access | null {
    if (this.open) return 'read-write';
    const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
    if (!m) return null;
    const presented = sha256(m[1]!);
    let granted: Access | null = null;
    for (const { digest, access } of this.digests) {
      // A token listed as both read-write and read-only gets read-write.
      if (timingSafeEqual(presented, digest) && granted !== 'read-write') granted = access;
    }
    return granted;
  }
}

function sha256(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
