/**
 * The service cannot delete the first-boot pairing-URI file: /etc/consystence-edge is root's, so the service user
 * can read the file but not change the directory (a directory it could write is one where it could plant a link
 * for root to follow). Instead a URI it paired from is remembered by its SHA-256 in the device's own state, and
 * `run` never pairs from the same URI twice: after a `reset`, a spent single-use code left in the file gives a
 * clear message instead of a rejected pairing attempt at every restart. The hash does not reveal the code.
 */
import { createHash } from 'node:crypto';
import type { KvStore } from '../stores/kv-store.js';

const USED_URI_KEY = 'pairing.used_uri_sha256';

const digest = (uri: string) => createHash('sha256').update(uri, 'utf8').digest('hex');

export const wasPairingUriUsed = (kv: KvStore, uri: string): boolean => kv.get(USED_URI_KEY) === digest(uri);

export const markPairingUriUsed = (kv: KvStore, uri: string): void => kv.set(USED_URI_KEY, digest(uri));
