/**
 * The interrupted registration a device may hold (the pending row `pair` and `register` save before their first
 * attempt), told in words: which command left it, with which server, for which edge, when, and what it may have
 * spent. `reset`, `status` and `doctor` name it so a technician finishes it instead of spending a second licence.
 */
import type { PendingPairing } from '../stores/pending-pairing-store.js';

export interface PendingRequest {
  /** `register` (a licence key, through a site server) or `pair` (a pairing code, with the cloud). */
  command: 'register' | 'pair';
  /** The site server's URL for `register`, the cloud's for `pair`. */
  server: string;
  edgeId: string | undefined;
  startedAt: string;
  /** A `pair` may carry a licence key too. */
  withLicence: boolean;
}

export function describePending(pending: PendingPairing): PendingRequest {
  let body: { edgeId?: unknown; licenceKey?: unknown; code?: unknown } = {};
  try {
    body = JSON.parse(pending.body) as typeof body;
  } catch {
    // An unreadable body still names its server and time.
  }
  return {
    // Only a pair has a pairing code (its digest); a register has the licence key alone.
    command: body.code !== undefined ? 'pair' : 'register',
    server: pending.cloudUrl,
    edgeId: typeof body.edgeId === 'string' ? body.edgeId : undefined,
    startedAt: pending.createdAt,
    withLicence: body.licenceKey !== undefined,
  };
}

/** "an interrupted register with the site server https://… for edge north-01, started 2026-…" */
export function pendingSentence(request: PendingRequest): string {
  const where = request.command === 'register' ? `the site server ${request.server}` : `the cloud ${request.server}`;
  const edge = request.edgeId ? ` for edge ${request.edgeId}` : '';
  return `an interrupted ${request.command} with ${where}${edge}, started ${request.startedAt}`;
}

/** What the interrupted request may already have used, so abandoning it is a decision made knowingly. */
export function pendingSpent(request: PendingRequest): string {
  return request.command === 'register'
    ? 'its licence key may already be bound to this device, and stays bound until the site admin releases it'
    : `its pairing code may already be used${request.withLicence ? ' and its licence key bound' : ''}`;
}

/** The command that finishes it: the same one again (the secret is not kept, so the technician gives it again). */
export function pendingFinishCommand(request: PendingRequest): string {
  const edge = request.edgeId ? ` --edge-id ${request.edgeId}` : '';
  return request.command === 'register'
    ? `consystence-edge register --site-server ${request.server} --site-server-fingerprint …${edge} --licence-key-file FILE (the same licence key)`
    : `consystence-edge pair --uri -${edge} (the same pairing URI)`;
}

/** For status and doctor: what is pending and how to finish it, or how to give it up. */
export function pendingAdvice(request: PendingRequest): string {
  return `${pendingSentence(request)} did not finish (${pendingSpent(request)}); finish it with the same command: ${pendingFinishCommand(request)}. To give it up instead: consystence-edge reset --yes --force`;
}
