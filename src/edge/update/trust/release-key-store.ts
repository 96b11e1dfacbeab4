/**
 * The release keys this device trusts (issue 13): the set built into the binary, replaced by the latest
 * key-rotation document it verified, stored in identity.db. A rotation is verified against the keys trusted at
 * that moment and must carry a higher sequence than them, so a key is added or revoked only by a holder of a
 * trusted key, and an older document (one that would bring a revoked key back) is refused. No clock is involved.
 *
 * The built-in set has a sequence too: a binary built with a newer set than the stored document wins over it,
 * so reflashing with current keys never leaves the device on an older rotation.
 */
import {
  ReleaseVerificationError,
  TrustedReleaseKey,
  type TrustedReleaseKeySet,
  verifyReleaseKeys,
} from '../../../protocol/release.js';
import { BUILT_IN_RELEASE_KEYS } from '../../../protocol/built-in-release-keys.js';
import type { Db } from '../../../storage/index.js';

export interface TrustedKeys extends TrustedReleaseKeySet {
  /** `built-in`: the binary's set; `rotation`: a stored key-rotation document newer than it. */
  source: 'built-in' | 'rotation';
}

/** `applied: false`: the document was the one already held; `sequence` is the one trusted after the call. */
export interface RotationOutcome {
  applied: boolean;
  sequence: number;
}

interface Row {
  sequence: number;
  keys: string;
  document: string;
}

export class ReleaseKeyStore {
  constructor(
    private readonly db: Db,
    private readonly builtIn: TrustedReleaseKeySet = BUILT_IN_RELEASE_KEYS,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private stored(): Row | undefined {
    // A read-only command on a device not yet split (its edge.db from before this table) sees the built-in set.
    const exists = this.db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'release_keys'").get();
    if (!exists) return undefined;
    return this.db.prepare<Row>('SELECT sequence, keys, document FROM release_keys WHERE id = 1').get();
  }

  /** The keys a manifest or a rotation document must be signed with now, and the sequence they stand at. */
  trustedKeys(): TrustedKeys {
    const row = this.stored();
    if (!row || row.sequence <= this.builtIn.sequence) return { ...this.builtIn, source: 'built-in' };
    // Written by applyRotation after verification; parsed again so a damaged row fails loudly, not open.
    const keys = TrustedReleaseKey.array().min(1).parse(JSON.parse(row.keys));
    return { sequence: row.sequence, keys, source: 'rotation' };
  }

  /**
   * Verifies a key-rotation document (compact JWS) against the keys trusted now and stores it, in one
   * transaction. The very document already held is accepted again without change (offers repeat it); any other
   * document that is not newer throws `ReleaseVerificationError`, as does a bad signature, and nothing changes.
   */
  async applyRotation(jws: string): Promise<RotationOutcome> {
    const before = this.trustedKeys();
    if (before.source === 'rotation' && this.stored()?.document === jws)
      return { applied: false, sequence: before.sequence };
    const doc = await verifyReleaseKeys(jws, before.keys, before.sequence);
    return this.db.transaction(() => {
      // Another caller may have stored a document while this one was being verified: it was verified against
      // keys that may no longer be trusted, so it is refused (the next offer carries it again).
      const current = this.trustedKeys();
      if (current.sequence !== before.sequence)
        throw new ReleaseVerificationError(
          'BAD_MANIFEST',
          `the trusted keys changed while key-rotation document ${doc.sequence} was being verified; try again`,
        );
      this.db
        .prepare(
          `INSERT INTO release_keys (id, sequence, keys, document, applied_at) VALUES (1, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET sequence = excluded.sequence, keys = excluded.keys,
             document = excluded.document, applied_at = excluded.applied_at`,
        )
        .run(doc.sequence, JSON.stringify(doc.keys), jws, this.now().toISOString());
      return { applied: true, sequence: doc.sequence };
    });
  }
}
