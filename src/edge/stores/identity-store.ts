/** The device key pair row. Written once at first boot, replaced only by `reset --keys`. */
import { z } from 'zod';
import type { Db } from '../../storage/index.js';
import { PublicJwk } from '../../protocol/index.js';

const PrivateJwk = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string(),
  y: z.string(),
  d: z.string(),
});
export type PrivateJwk = z.infer<typeof PrivateJwk>;

export interface StoredIdentity {
  privateJwk: PrivateJwk;
  publicJwk: PublicJwk;
  thumbprint: string;
  createdAt: string;
}

interface Row {
  private_jwk: string;
  public_jwk: string;
  thumbprint: string;
  created_at: string;
}

export class IdentityStore {
  constructor(private readonly db: Db) {}

  get(): StoredIdentity | null {
    const row = this.db
      .prepare<Row>('SELECT private_jwk, public_jwk, thumbprint, created_at FROM identity WHERE id = 1')
      .get();
    if (!row) return null;
    // A damaged row is treated as absent by the caller only through `reset --keys`; here it is an error.
    return {
      privateJwk: PrivateJwk.parse(JSON.parse(row.private_jwk)),
      publicJwk: PublicJwk.parse(JSON.parse(row.public_jwk)),
      thumbprint: row.thumbprint,
      createdAt: row.created_at,
    };
  }

  /** Inserts only if no key exists (two processes racing at first boot keep the first key). */
  insertIfAbsent(identity: StoredIdentity): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO identity (id, private_jwk, public_jwk, thumbprint, created_at) VALUES (1, ?, ?, ?, ?)',
      )
      .run(
        JSON.stringify(identity.privateJwk),
        JSON.stringify(identity.publicJwk),
        identity.thumbprint,
        identity.createdAt,
      );
  }

  delete(): void {
    this.db.prepare('DELETE FROM identity').run();
  }
}
