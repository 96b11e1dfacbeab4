/**
 * What the edge does with a broker's CONNACK refusal (3.1.1 return codes 1-5, MQTT 5 reason codes ≥ 0x80) or an
 * MQTT 5 DISCONNECT from the server. The decision, not the number, travels on: the link refreshes the token,
 * waits longer, falls back to 3.1.1, or just backs off; the text is what `status` shows a technician.
 */
import { printable } from '../../common/text/safe-text.js';

export type ReasonAction =
  /** Credentials: refresh the token (the refresh itself finds out if the device was revoked → re-pair). */
  | 'refresh'
  /** The server is overloaded or rate-limiting: back off at least BUSY_MIN_DELAY_MS, so a fleet does not pile on. */
  | 'busy'
  /** The broker does not speak MQTT 5: retry at once with 3.1.1. */
  | 'downgrade'
  /** Anything else: the normal backoff. */
  | 'backoff';

export interface Reason {
  action: ReasonAction;
  text: string;
}

/** The floor for 'busy': a server that says it is busy is not helped by a retry within seconds. */
export const BUSY_MIN_DELAY_MS = 30_000;

const V311: Record<number, Reason> = {
  1: { action: 'downgrade', text: 'unacceptable protocol version' },
  2: { action: 'backoff', text: 'client identifier rejected; check the edge id is valid for this broker' },
  3: { action: 'busy', text: 'server unavailable' },
  4: { action: 'refresh', text: 'bad user name or password (the edge token was not accepted)' },
  5: { action: 'refresh', text: 'not authorised (token refused, device revoked or for another site)' },
};

const V5: Record<number, Reason> = {
  0x80: { action: 'backoff', text: 'unspecified error' },
  0x81: { action: 'backoff', text: 'malformed packet' },
  0x82: { action: 'backoff', text: 'protocol error' },
  0x83: { action: 'backoff', text: 'implementation specific error' },
  0x84: { action: 'downgrade', text: 'unsupported protocol version' },
  0x85: { action: 'backoff', text: 'client identifier not valid; check the edge id is valid for this broker' },
  0x86: { action: 'refresh', text: 'bad user name or password (the edge token was not accepted)' },
  0x87: { action: 'refresh', text: 'not authorised (token refused, device revoked or for another site)' },
  0x88: { action: 'busy', text: 'server unavailable' },
  0x89: { action: 'busy', text: 'server busy' },
  0x8a: { action: 'backoff', text: 'banned by the broker; ask the site administrator' },
  0x8b: { action: 'backoff', text: 'server shutting down' },
  0x8d: { action: 'backoff', text: 'keep alive timeout (the link is too slow or lossy)' },
  0x8e: {
    action: 'backoff',
    text: 'session taken over: another client connected with this edge id (a cloned device?)',
  },
  0x93: { action: 'backoff', text: 'receive maximum exceeded' },
  0x94: { action: 'backoff', text: 'topic alias invalid' },
  0x95: { action: 'backoff', text: 'packet too large for this broker' },
  0x96: { action: 'busy', text: 'message rate too high' },
  0x97: { action: 'busy', text: 'quota exceeded' },
  0x98: { action: 'backoff', text: 'disconnected by an administrator' },
  // Not followed: the broker address comes from the cloud at pairing, and an unauthenticated redirect must not move it.
  0x9c: { action: 'backoff', text: 'use another server (not followed: re-pair to change the site server address)' },
  0x9d: { action: 'backoff', text: 'server moved (not followed: re-pair to change the site server address)' },
  0x9f: { action: 'busy', text: 'connection rate exceeded' },
  0xa0: { action: 'backoff', text: 'maximum connect time reached' },
};

const hex = (code: number) => `0x${code.toString(16).padStart(2, '0')}`;

/** A refused CONNACK. */
export function connackReason(code: number, protocolVersion: 4 | 5): Reason {
  // mqtt.js reports a 3.1.1-style code (aedes answers 1 to a v5 CONNECT) even on a v5 client.
  const known = (protocolVersion === 5 && code >= 0x80 ? V5[code] : undefined) ?? V311[code] ?? V5[code];
  const shown = protocolVersion === 5 && code >= 0x80 ? hex(code) : String(code);
  return {
    action: known?.action ?? 'backoff',
    text: `the site server refused the connection: ${known?.text ?? 'unknown reason'} (CONNACK ${shown})`,
  };
}

/** An MQTT 5 DISCONNECT sent by the server; `reasonString` is the server's own words, shortened and made printable. */
export function disconnectReason(code: number, reasonString?: string, serverReference?: string): Reason {
  const known = V5[code];
  const extra = [
    reasonString ? `"${printable(reasonString, 200)}"` : '',
    serverReference ? `server reference ${printable(serverReference, 200)}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const action: ReasonAction = known?.action === 'downgrade' ? 'backoff' : (known?.action ?? 'backoff');
  return {
    action,
    text: `the site server disconnected this device: ${known?.text ?? (code === 0 ? 'normal disconnection' : 'unknown reason')} (DISCONNECT ${hex(code)})${extra ? `; ${extra}` : ''}`,
  };
}
