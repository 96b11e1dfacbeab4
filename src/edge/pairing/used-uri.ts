/**
 * The service cannot delete the first-boot pairing-URI file: /etc/consystence-edge is root's, so the service user
 * can read the file but not change the directory (a directory it could write is one where it could plant a link
 * for root to follow). Instead a URI it paired from is remembered by a SHA-256 in the device's own state, and
 * `run` never pairs from the same URI twice: after a `reset`, a spent single-use code left in the file gives a
 * clear message instead of a rejected pairing attempt at every restart. It is kept as a salted scrypt digest
 * (secret-digest.ts): an unsalted hash of an 8-character code would give the code away to a brute force.
 *
 * What is hashed is the pairing target after parsing, not the text: the cloud's normalised URL, the org and site
 * ids, the canonical code (case, dashes and look-alike letters folded) and the edge id. The same code written
 * another way, or with an extra query parameter, is still recognised as spent.
 */
import type { KvStore } from '../stores/kv-store.js';
import type { PairingInput } from './inputs.js';
import { matchesSecretDigest, secretDigest } from './secret-digest.js';

const USED_URI_KEY = 'pairing.used_target_sha256';

type PairingTargetFields = Pick<PairingInput, 'cloudUrl' | 'orgId' | 'siteId' | 'code' | 'edgeId'>;

const canonical = (target: PairingTargetFields) =>
  JSON.stringify([
    target.cloudUrl,
    target.orgId.toLowerCase(),
    target.siteId.toLowerCase(),
    target.code,
    target.edgeId,
  ]);

/** Also recognises the unsalted SHA-256 an earlier version stored (secret-digest.ts). */
export const wasPairingUriUsed = (kv: KvStore, target: PairingTargetFields): boolean =>
  matchesSecretDigest(kv.get(USED_URI_KEY), canonical(target));

export const markPairingUriUsed = (kv: KvStore, target: PairingTargetFields): void =>
  kv.set(USED_URI_KEY, secretDigest(canonical(target)));
