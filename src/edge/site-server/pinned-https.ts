/**
 * HTTPS to a site server trusted by its key fingerprint, the way SSH trusts a host (issue 15): the device has no CA
 * for the site server at first contact, so the TLS handshake runs without CA verification, the peer's key is hashed
 * (`SiteFingerprint`: SHA-256 of the certificate's DER SubjectPublicKeyInfo) and compared with the pin, and only
 * after a match is one byte of the request written. HTTP/1.1 is spoken here on the checked socket, not by
 * node:https: neither Node nor Bun promises that a request is held back until a `secureConnect` handler ran, and a
 * mismatch must send no licence key, no public key and no token.
 *
 * Every later call to the site server's origin (token refresh, support-bundle upload) goes through this one
 * transport with the stored pin (site-registration-store.ts), so a swapped site server is refused the same way.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { TLS_CIPHERS } from '../../common/tls/ciphers.js';
import type { SiteFingerprint } from '../../protocol/index.js';
import type { FetchLike } from '../cloud-client/http.js';

/** A whole answer is buffered (register's answer may carry a 256 KiB licence file); past this the call fails. */
const MAX_ANSWER_BYTES = 2 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 15_000;
/** A technician at the device sees a waiting line this long into a connection or handshake that hangs. */
const WAITING_NOTICE_MS = 3_000;

/** Where a connection stands: the TCP connection, or the TLS handshake after it. */
export type ConnectStage = 'connecting' | 'tls';

/** The site server's key is not the pinned one: final, never retried, nothing was sent. */
export class SiteIdentityMismatchError extends Error {
  override readonly name = 'SiteIdentityMismatchError';
  constructor(
    readonly expected: SiteFingerprint,
    readonly actual: SiteFingerprint,
  ) {
    super(
      `the site server presented the key ${actual}, not the pinned ${expected}; nothing was sent to it. If the site server was replaced or its key changed on purpose, compare the new fingerprint with the one it prints and register again; otherwise something is impersonating it`,
    );
  }
}

export function spkiFingerprint(certificateDer: Buffer): SiteFingerprint {
  const spki = new X509Certificate(certificateDer).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** TLS to the URL's host and port without CA verification; resolves once the handshake is done, nothing written. */
function openUnverified(
  url: URL,
  signal: AbortSignal | undefined,
  onWaiting?: (stage: ConnectStage) => void,
): Promise<{ socket: TLSSocket; peer: SiteFingerprint }> {
  return new Promise((resolve, reject) => {
    if (url.protocol !== 'https:') return reject(new TypeError(`the site server URL must be https (${url.origin})`));
    if (signal?.aborted) return reject(signal.reason);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = connect({
      host,
      port: Number(url.port || 443),
      // The CA check is replaced by the fingerprint check below, which runs before anything is written.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ciphers: TLS_CIPHERS,
      ...(/^[\d.]+$/.test(host) || host.includes(':') ? {} : { servername: host }),
    });
    const stage = (): ConnectStage => (socket.connecting ? 'connecting' : 'tls');
    const waiting = onWaiting ? setTimeout(() => onWaiting(stage()), WAITING_NOTICE_MS) : undefined;
    // Say where it stalled (`stage`): the abort reason itself is a DOMException whose `code` is a number (23).
    const onAbort = () => {
      const reason = signal?.reason as Error | undefined;
      const where = stage() === 'connecting' ? 'connecting to' : 'completing TLS with';
      socket.destroy(
        reason?.name === 'TimeoutError'
          ? Object.assign(new Error(`timed out ${where} ${host}:${socket.remotePort ?? url.port}`), {
              code: 'ETIMEDOUT',
              stage: stage(),
            })
          : reason,
      );
    };
    const settled = () => {
      clearTimeout(waiting);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (error: Error) => {
      settled();
      reject(Object.assign(new TypeError('fetch failed'), { cause: error }));
    });
    socket.once('secureConnect', () => {
      settled();
      const raw = socket.getPeerCertificate()?.raw;
      if (!raw) {
        socket.destroy();
        return reject(new TypeError('the site server presented no certificate'));
      }
      resolve({ socket, peer: spkiFingerprint(raw) });
    });
  });
}

/**
 * The fingerprint the server at `url` presents now. Only the TLS handshake happens: no request is sent.
 * `onWaiting` is told once when the connection or handshake is still not done after a few seconds.
 */
export async function readPeerFingerprint(
  url: string,
  options: { timeoutMs?: number; onWaiting?: (stage: ConnectStage) => void } = {},
): Promise<SiteFingerprint> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const { socket, peer } = await openUnverified(new URL(url), timeout, options.onWaiting);
  socket.destroy();
  return peer;
}

/** A FetchLike that talks only to a server holding the key `fingerprint` names (one request per connection). */
export function fingerprintPinnedFetch(fingerprint: SiteFingerprint): FetchLike {
  return async (input, init = {}) => {
    const url = new URL(input);
    const signal = init.signal ?? AbortSignal.timeout(DEFAULT_TIMEOUT_MS);
    const { socket, peer } = await openUnverified(url, signal);
    if (peer !== fingerprint) {
      socket.destroy();
      throw Object.assign(new TypeError('fetch failed'), { cause: new SiteIdentityMismatchError(fingerprint, peer) });
    }
    return exchange(socket, url, init, signal);
  };
}

function requestBytes(url: URL, init: RequestInit): Buffer {
  const body = init.body === undefined || init.body === null ? undefined : toBuffer(init.body);
  const headers = new Headers(init.headers);
  headers.set('host', url.host);
  headers.set('connection', 'close');
  if (body !== undefined) headers.set('content-length', String(body.length));
  let head = `${init.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  headers.forEach((value, key) => {
    if (/[\r\n]/.test(value)) throw new TypeError(`header ${key} holds a line break`);
    head += `${key}: ${value}\r\n`;
  });
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

function toBuffer(body: NonNullable<RequestInit['body']>): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('the pinned site-server transport sends string or byte bodies only');
}

/** Writes the request, reads the whole answer (the server closes: `connection: close`) and parses it. */
function exchange(socket: TLSSocket, url: URL, init: RequestInit, signal: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: unknown) => {
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      try {
        resolve(parseResponse(Buffer.concat(chunks), init.method === 'HEAD'));
      } catch (error) {
        reject(error);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) return fail(new Error(`the site server's answer is over ${MAX_ANSWER_BYTES} bytes`));
      chunks.push(chunk);
      // A server that keeps the connection open despite `connection: close` must not hold the answer back.
      if (answerComplete(Buffer.concat(chunks))) finish();
    });
    socket.once('error', (error) => fail(Object.assign(new TypeError('fetch failed'), { cause: error })));
    socket.once('end', finish);
    try {
      socket.write(requestBytes(url, init));
    } catch (error) {
      fail(error);
    }
  });
}

/** Whether the bytes so far hold a whole answer by its own framing (content-length or the last chunk). */
export function answerComplete(raw: Buffer): boolean {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = raw.subarray(0, end).toString('latin1');
  if (/^transfer-encoding:.*chunked/im.test(head)) return raw.subarray(end).includes('\r\n0\r\n\r\n');
  const length = /^content-length:\s*(\d+)/im.exec(head)?.[1];
  return length !== undefined && raw.length - end - 4 >= Number(length);
}

/** An HTTP/1.1 answer read to the end: status line, headers, and a body by content-length, chunks or close. */
export function parseResponse(raw: Buffer, head: boolean): Response {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw Object.assign(new TypeError('fetch failed'), { cause: new Error('the answer ended early') });
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  if (!status) throw new TypeError(`not an HTTP answer (${statusLine.slice(0, 40)})`);
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
  else if (headers.has('content-length')) {
    const length = Number(headers.get('content-length'));
    // Fewer bytes than announced: the connection broke mid-answer; a stream error is what fetch gives then.
    if (body.length < length) return truncated(Number(status), headers);
    body = body.subarray(0, length);
  }
  headers.delete('transfer-encoding');
  const code = Number(status);
  const empty = head || code === 204 || code === 304;
  return new Response(empty ? null : new Uint8Array(body), { status: code, headers });
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('the chunked answer ended early');
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('the chunked answer is malformed');
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** A response whose body stream errors, as a cut connection looks to fetch's readers (cloudCall retries it). */
function truncated(status: number, headers: Headers): Response {
  const stream = new ReadableStream<Uint8Array>({ start: (controller) => controller.error(new Error('cut short')) });
  return new Response(stream, { status, headers });
}
