/**
 * Support bundles the site server asked edges for: the upload slots (random id, one edge, single use, expiring,
 * size-capped) and the bundles received, kept in memory (the newest `maxKept`) for the control API to list and
 * download.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export interface UploadSlot {
  id: string;
  edgeId: string;
  maxBytes: number;
  expiresAtMs: number;
  used: boolean;
}

export interface StoredBundle {
  id: string;
  edgeId: string;
  bytes: number;
  sha256: string;
  receivedAt: string;
  data: Buffer;
}

export type SlotClaim = { ok: true; slot: UploadSlot } | { ok: false; status: 404 | 410; reason: string };

export class SupportBundles {
  private readonly slots = new Map<string, UploadSlot>();
  private readonly bundles: StoredBundle[] = [];

  constructor(
    private readonly maxKept = 20,
    private readonly now: () => number = Date.now,
  ) {}

  createSlot(edgeId: string, ttlMs: number, maxBytes: number): UploadSlot {
    this.forgetExpired();
    // 128 random bits: the URL cannot be guessed, and it is good for one upload by one edge only.
    const slot = {
      id: randomBytes(16).toString('hex'),
      edgeId,
      maxBytes,
      expiresAtMs: this.now() + ttlMs,
      used: false,
    };
    this.slots.set(slot.id, slot);
    return slot;
  }

  /** Whether a slot may take an upload: an unknown id is 404; a used or expired one 410. */
  peek(id: string): SlotClaim {
    const slot = this.slots.get(id);
    if (!slot) return { ok: false, status: 404, reason: 'no such upload URL' };
    if (slot.used) return { ok: false, status: 410, reason: 'this upload URL was already used' };
    if (slot.expiresAtMs < this.now()) return { ok: false, status: 410, reason: 'this upload URL has expired' };
    return { ok: true, slot };
  }

  /** Takes a slot for one upload (after the uploader was authenticated): it can never be used again. */
  claim(id: string): SlotClaim {
    const claim = this.peek(id);
    if (claim.ok) claim.slot.used = true;
    return claim;
  }

  save(edgeId: string, data: Buffer): StoredBundle {
    const bundle = {
      id: randomUUID(),
      edgeId,
      bytes: data.length,
      sha256: sha256Hex(data),
      receivedAt: new Date(this.now()).toISOString(),
      data,
    };
    this.bundles.push(bundle);
    if (this.bundles.length > this.maxKept) this.bundles.splice(0, this.bundles.length - this.maxKept);
    return bundle;
  }

  list(edgeId: string): StoredBundle[] {
    return this.bundles.filter((b) => b.edgeId === edgeId);
  }

  get(edgeId: string, id: string): StoredBundle | undefined {
    return this.bundles.find((b) => b.edgeId === edgeId && b.id === id);
  }

  private forgetExpired(): void {
    for (const [id, slot] of this.slots) if (slot.used || slot.expiresAtMs < this.now()) this.slots.delete(id);
  }
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A bundle's description for the control API (everything but the bytes). */
export function describeBundle(bundle: StoredBundle) {
  const { data: _data, ...meta } = bundle;
  return meta;
}
