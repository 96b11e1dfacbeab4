/**
 * Calls the site server's edge-facing HTTPS API as a device does on first contact: no CA trust, the peer's
 * key checked by its fingerprint (sha256 of the SPKI DER) instead. Returns the fingerprint seen on the socket so
 * a test can compare it with what the server printed.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { IDEMPOTENCY_KEY_HEADER, SITE_EDGE_ROUTES, siteEdgeUrl } from '../../../../src/protocol/index.js';

export interface EdgeAnswer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
  peerFingerprint: string;
}

export function edgeCall(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<EdgeAnswer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        rejectUnauthorized: false,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...options.headers },
        timeout: 30_000,
      },
      (res) => {
        const der = (res.socket as TLSSocket).getPeerX509Certificate?.();
        const spki = der ? new X509Certificate(der.raw).publicKey.export({ type: 'spki', format: 'der' }) : undefined;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* keep the text */
          }
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            peerFingerprint: spki ? `sha256:${createHash('sha256').update(spki).digest('hex')}` : '',
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** `POST register` with an Idempotency-Key (a new one unless given). */
export function registerAt(edgeUrl: string, body: unknown, idempotencyKey: string = randomUUID()): Promise<EdgeAnswer> {
  return edgeCall(siteEdgeUrl(edgeUrl, SITE_EDGE_ROUTES.register), {
    method: 'POST',
    headers: { [IDEMPOTENCY_KEY_HEADER]: idempotencyKey },
    body,
  });
}
