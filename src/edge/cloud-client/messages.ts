/**
 * The cloud's refusal codes in plain language, each with the next step a technician can take on site.
 * Unknown codes (a newer cloud) fall back to the cloud's own message.
 */
const MESSAGES: Record<string, string> = {
  PAIRING_CODE_INVALID:
    'this pairing code is unknown or has expired; ask for a new one in the Consystence portal (Site > Edge devices > Pair a device)',
  PAIRING_CODE_USED: 'this pairing code was already used; ask for a new one in the Consystence portal',
  EDGE_ID_TAKEN:
    'another device already uses this edge id at this site; choose another with --edge-id, or remove the old device in the portal',
  LICENCE_BOUND:
    'this licence key is already bound to another device; use another licence key or ask Consystence support to release it',
  LICENCE_INVALID: 'this licence key is not valid; check it for typos (CST-EDGE-XXXX-XXXX-XXXX)',
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

export function describeCloudError(code: string | undefined, cloudMessage: string | undefined, status: number): string {
  if (code && MESSAGES[code]) {
    return WITH_CLOUD_DETAIL.has(code) && cloudMessage
      ? `${MESSAGES[code]} (the cloud says: ${cloudMessage.slice(0, 300)})`
      : MESSAGES[code]!;
  }
  const detail = cloudMessage ? `: ${cloudMessage.slice(0, 300)}` : '';
  return `the cloud refused the request (HTTP ${status}${code ? ` ${code}` : ''})${detail}`;
}
