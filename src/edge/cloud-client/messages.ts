/**
 * The cloud's refusal codes in plain language, each with the next step a technician can take on site.
 * Unknown codes (a newer cloud) fall back to the cloud's own message.
 */
import { printable } from '../../common/text/safe-text.js';

const MESSAGES: Record<string, string> = {
  // The cloud answers PAIRING_CODE_INVALID both for a mistyped and for an expired code (it cannot tell a typo
  // from a code it has forgotten), so the message names both and says how to tell them apart.
  PAIRING_CODE_INVALID:
    'the cloud does not accept this pairing code: it is either mistyped or expired (the cloud does not say which; codes are valid 15 minutes). Compare it with the code shown in the Consystence portal; if it matches, ask for a new one (Site > Edge devices > Pair a device)',
  // Not sent by today's cloud; named so a cloud that learns to tell expiry apart is understood at once.
  PAIRING_CODE_EXPIRED:
    'this pairing code has expired (codes are valid 15 minutes); ask for a new one in the Consystence portal',
  PAIRING_CODE_USED: 'this pairing code was already used; ask for a new one in the Consystence portal',
  EDGE_ID_TAKEN:
    'another device already uses this edge id at this site; choose another with --edge-id, or remove the old device in the portal',
  LICENCE_BOUND:
    'this licence key is already bound to another device; use another licence key or ask Consystence support to release it',
  LICENCE_INVALID: 'this licence key is not valid; check it for typos (CST-EDGE-XXXX-XXXX-XXXX)',
  CLOUD_UNREACHABLE:
    'the site server cannot reach the Consystence cloud and has no offline licence file; restore its internet link, or ask the site admin to export an offline licence file in the portal and start the site server with --licence-file, then run register again (it is safe to repeat)',
  IDEMPOTENCY_MISMATCH: 'an earlier pairing attempt from this device used different details; run reset and pair again',
  EDGE_REVOKED: 'this device was removed from its site in the portal; pair it again with a new pairing code',
  NOT_FOUND:
    'the organisation or site in the pairing details does not exist (deleted?); check the pairing URI or ask for a new one',
  FORBIDDEN:
    "the cloud refused this request for this organisation or site; check the pairing details (a code made for one device needs that device's --edge-id)",
  VALIDATION_ERROR: 'the cloud rejected the pairing request as invalid; check --edge-id and --licence-key',
  UNAUTHENTICATED: 'the cloud did not accept the credentials; ask for a new pairing code',
  INVALID_TOKEN: 'the cloud did not accept the credentials; ask for a new pairing code',
  ASSERTION_REPLAYED: 'the cloud saw this refresh request before; it will be retried with a new one',
  PAYLOAD_TOO_LARGE: 'the request was too large for the cloud; check --edge-id and --licence-key',
};

/** Codes whose plain-language text is general: the cloud's own message says which field or rule. */
const WITH_CLOUD_DETAIL = new Set(['FORBIDDEN', 'VALIDATION_ERROR']);

/**
 * The cloud's refusal for a technician. The cloud's own message is text from the network: it is made printable
 * and capped before it is shown (an ANSI escape in it once drew fake "ok" lines on a terminal).
 */
export function describeCloudError(code: string | undefined, cloudMessage: string | undefined, status: number): string {
  if (code && MESSAGES[code]) {
    return WITH_CLOUD_DETAIL.has(code) && cloudMessage
      ? `${MESSAGES[code]} (the cloud says: ${printable(cloudMessage)})`
      : MESSAGES[code]!;
  }
  const detail = cloudMessage ? `: ${printable(cloudMessage)}` : '';
  return `the cloud refused the request (HTTP ${status}${code ? ` ${printable(code, 64)}` : ''})${detail}`;
}
