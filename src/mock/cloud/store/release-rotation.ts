/** The newest key-rotation document the cloud has handed out, and its sequence (migration 0006). */
import type { Db } from '../../../storage/index.js';

export interface HeldRotation {
  sequence: number;
  document: string;
}

export function heldRotation(db: Db): HeldRotation | undefined {
  return db.prepare<HeldRotation>('SELECT sequence, document FROM release_rotation WHERE id = 1').get() ?? undefined;
}

export function holdRotation(db: Db, rotation: HeldRotation, at: string): void {
  db.prepare(
    `INSERT INTO release_rotation (id, sequence, document, accepted_at) VALUES (1, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET sequence = excluded.sequence, document = excluded.document, accepted_at = excluded.accepted_at`,
  ).run(rotation.sequence, rotation.document, at);
}
