/**
 * The cloud over https with a private CA (`pair --cloud-ca FILE`): a FetchLike on node:https, because the global
 * fetch cannot take a CA in both runtimes (Node's needs an undici dispatcher, Bun's a `tls` option). With the CA
 * given it is the only one trusted (no system store), host names are verified, TLS 1.2+ with AEAD suites only.
 * The CA is kept in the edge database after pairing so token refreshes trust the same CA, not the system store.
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { Readable } from 'node:stream';
import type { Db } from '../../storage/index.js';
import { EdgeError } from '../errors.js';
import { pinnedTlsOptions } from '../session/tls.js';
import { KvStore } from '../stores/kv-store.js';
import type { FetchLike } from './http.js';

const CLOUD_CA_KEY = 'cloud_ca_pem';
const MAX_CA_BYTES = 64 * 1024;

/** Checks a PEM bundle holds at least one parsable CA certificate; returns it trimmed. Technician-readable errors. */
export function parseCaPem(text: string, source: string): string {
  if (text.length > MAX_CA_BYTES)
    throw new EdgeError('USAGE', `${source} is too large for a CA certificate (over 64 KiB)`);
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new EdgeError('USAGE', `${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const block of blocks) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (error) {
      throw new EdgeError('USAGE', `${source} holds a certificate that cannot be read (${(error as Error).message})`);
    }
    if (!cert.ca)
      throw new EdgeError(
        'USAGE',
        `${source} holds a certificate that is not a CA (${cert.subject.replace(/\n/g, ', ')}); give the CA that signed the cloud's certificate`,
      );
  }
  return `${blocks.join('\n')}\n`;
}

export function pinnedFetch(caPem: string): FetchLike {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input);
      if (url.protocol !== 'https:')
        return reject(new EdgeError('USAGE', `a cloud CA was given but the cloud URL is not https (${url.origin})`));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, key) => (headers[key] = value));
      const body = typeof init.body === 'string' ? init.body : undefined;
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const req = request(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          agent: false,
          ...pinnedTlsOptions(url.hostname.replace(/^\[|\]$/g, ''), caPem),
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const responseHeaders = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders.set(key, Array.isArray(value) ? value.join(', ') : value);
          }
          const status = res.statusCode ?? 502;
          const empty = status === 204 || status === 304 || init.method === 'HEAD';
          if (empty) res.resume();
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              headers: responseHeaders,
            }),
          );
        },
      );
      // fetch's shape: a network failure is a TypeError whose cause carries the code (cloudCall reads `cause.code`).
      req.on('error', (error) =>
        reject(error.name === 'AbortError' ? error : Object.assign(new TypeError('fetch failed'), { cause: error })),
      );
      req.end(body);
    });
}

export function loadCloudCa(db: Db): string | undefined {
  return new KvStore(db).get(CLOUD_CA_KEY) || undefined;
}

/** Saves (or with undefined, forgets) the CA the cloud is trusted with: what was given at the last pairing. */
export function saveCloudCa(db: Db, caPem: string | undefined): void {
  const kv = new KvStore(db);
  if (caPem) kv.set(CLOUD_CA_KEY, caPem);
  else kv.delete(CLOUD_CA_KEY);
}

/** The fetch for this device's cloud: pinned to the saved CA if pairing gave one, the platform's otherwise. */
export function cloudFetchFor(db: Db): FetchLike {
  const ca = loadCloudCa(db);
  return ca ? pinnedFetch(ca) : (input, init) => fetch(input, init);
}
