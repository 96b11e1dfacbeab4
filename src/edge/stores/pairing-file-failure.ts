/**
 * Why the service's last pairing from the pairing-URI file failed, kept for `status` (the service exits and
 * systemd restarts it, so the failure would otherwise live only in the journal). Never the code or the URI:
 * the message is the refusal's plain-language text.
 */
import { z } from 'zod';
import type { EdgeStores } from './index.js';

const KEY = 'pairing_uri_file_failure';

export const PairingFileFailure = z.object({
  at: z.string().max(64),
  message: z.string().max(2000),
  cloudCode: z.string().max(64).nullable(),
});
export type PairingFileFailure = z.infer<typeof PairingFileFailure>;

export function recordPairingFileFailure(state: EdgeStores, failure: PairingFileFailure): void {
  const clean = PairingFileFailure.parse({ ...failure, message: failure.message.slice(0, 2000) });
  state.db.transaction(() => state.kv.set(KEY, JSON.stringify(clean)));
}

export function clearPairingFileFailure(state: EdgeStores): void {
  state.db.transaction(() => state.kv.delete(KEY));
}

export function readPairingFileFailure(state: EdgeStores): PairingFileFailure | null {
  const text = state.kv.get(KEY);
  if (text === undefined) return null;
  try {
    const parsed = PairingFileFailure.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
