/**
 * One HTTP call to the cloud, with the defences a field device needs: a timeout, a cap on the body size read
 * (a broken proxy must not fill memory), JSON parsed defensively, and every failure classified as retryable
 * (network, truncated body, 429, 5xx) or final. The server's clock is sampled from every answer.
 */
import type { ServerTimeSample } from '../clock.js';
import { parseRetryAfter } from '../backoff.js';
import { describeTlsError } from '../session/tls.js';
import { SiteIdentityMismatchError } from '../site-server/pinned-https.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface CloudResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined for an empty one. */
  body: unknown;
  time: ServerTimeSample | null;
}

/** A failed call. `retryable` says whether trying again (with the same Idempotency-Key) is sensible. */
export class CloudCallError extends Error {
  override readonly name = 'CloudCallError';
  constructor(
    message: string,
    readonly kind: 'network' | 'timeout' | 'truncated' | 'oversized' | 'malformed' | 'http' | 'tls',
    readonly retryable: boolean,
    readonly extra: { status?: number; retryAfterMs?: number | null; response?: CloudResponse } = {},
  ) {
    super(message);
  }
}

export interface CloudRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeoutMs?: number;
  maxBytes?: number;
}

/** Of a 5xx body only this much is read, for the message: an outage page of any size is still an outage. */
const ERROR_PREFIX_BYTES = 16 * 1024;

/** The body up to `maxBytes`; past that an error, or with `prefixOnly` the first `maxBytes` and no more. */
async function readCapped(response: Response, maxBytes: number, prefixOnly = false): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (!prefixOnly && Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new CloudCallError(`the cloud's answer is too large (${declared} bytes)`, 'oversized', false);
  }
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let step: { done: boolean; value?: Uint8Array };
    try {
      step = await reader.read();
    } catch (cause) {
      // The connection dropped mid-body: the request may have committed, so retrying (same key) is right.
      throw new CloudCallError(
        `the connection to the cloud broke while reading its answer (${(cause as Error).message})`,
        'truncated',
        true,
      );
    }
    if (step.done) break;
    if (!step.value) continue;
    if (prefixOnly && total + step.value.byteLength >= maxBytes) {
      chunks.push(step.value.subarray(0, maxBytes - total));
      total = maxBytes;
      await reader.cancel().catch(() => {});
      break;
    }
    total += step.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new CloudCallError(`the cloud's answer is too large (over ${maxBytes} bytes)`, 'oversized', false);
    }
    chunks.push(step.value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

export async function cloudCall(
  fetchImpl: FetchLike,
  request: CloudRequest,
  now: () => number = Date.now,
): Promise<CloudResponse> {
  let response: Response;
  try {
    response = await fetchImpl(request.url, {
      method: request.method,
      headers: {
        accept: 'application/json',
        ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...request.headers,
      },
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
      signal: AbortSignal.timeout(request.timeoutMs ?? 15_000),
      redirect: 'error',
    });
  } catch (cause) {
    const name = (cause as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError')
      throw new CloudCallError('the cloud did not answer in time', 'timeout', true);
    // A certificate problem is final for this call: retrying within seconds will not fix a wrong CA or name.
    // So is a site server whose key is not the pinned one (site-server/pinned-https.ts): passed on as it is.
    const mismatch = (cause as { cause?: unknown }).cause;
    if (mismatch instanceof SiteIdentityMismatchError) throw mismatch;
    const tls = describeTlsError(cause, 'cloud', new URL(request.url).hostname, false);
    if (tls) throw new CloudCallError(tls, 'tls', false);
    const inner = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as { code?: string }).code;
    throw new CloudCallError(`cannot reach the cloud (${inner ?? (cause as Error).message})`, 'network', true);
  }
  const localMs = now();
  const dateHeader = response.headers.get('date');
  const headerMs = dateHeader ? Date.parse(dateHeader) : NaN;
  let raw: Uint8Array;
  try {
    raw =
      response.status >= 500
        ? await readCapped(response, ERROR_PREFIX_BYTES, true)
        : await readCapped(response, request.maxBytes ?? MAX_RESPONSE_BYTES);
  } catch (error) {
    if (error instanceof CloudCallError) throw error;
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError')
      throw new CloudCallError('the cloud stopped answering mid-response', 'timeout', true);
    throw new CloudCallError(`the connection to the cloud broke while reading its answer`, 'truncated', true);
  }
  let body: unknown;
  const text = Buffer.from(raw).toString('utf8');
  if (text.trim().length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      const status = response.status;
      // A 5xx page from a proxy is a cloud outage, not a bad answer: retry. A 2xx that is not JSON was cut or garbled.
      if (status >= 500 || status === 429) {
        throw new CloudCallError(`the cloud answered ${status}`, 'http', true, {
          status,
          retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), localMs),
        });
      }
      throw new CloudCallError(
        `the cloud's answer is not valid JSON (HTTP ${status}${isCut(text) ? ', cut short' : ''})`,
        isCut(text) ? 'truncated' : 'malformed',
        isCut(text),
      );
    }
  }
  const serverMs =
    body && typeof body === 'object' && typeof (body as { serverTime?: unknown }).serverTime === 'string'
      ? Date.parse((body as { serverTime: string }).serverTime)
      : headerMs;
  return {
    status: response.status,
    headers: response.headers,
    body,
    time: Number.isFinite(serverMs) ? { serverMs, localMs } : null,
  };
}

/** A JSON text that starts like an object but does not close is a cut body, not a garbled one. */
function isCut(text: string): boolean {
  const t = text.trim();
  return (t.startsWith('{') && !t.endsWith('}')) || (t.startsWith('[') && !t.endsWith(']'));
}
