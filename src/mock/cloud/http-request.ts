/**
 * A minimal HTTP(S) request over node:http/https. Used by the admin client instead of `fetch` because it must
 * trust a rig's private CA (`ca`), which Node's fetch cannot take without an extra dependency.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The raw bytes (a bundle download); `text` is them as UTF-8. */
  body: Buffer;
}

const TIMEOUT_MS = 30_000;

export function sendRequest(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string | Readable; ca?: string },
): Promise<HttpResponse> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method: init.method, headers: init.headers, timeout: TIMEOUT_MS, ...(init.ca ? { ca: init.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: body.toString('utf8'), body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.origin} within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    if (init.body === undefined || typeof init.body === 'string') req.end(init.body);
    else init.body.on('error', (error) => req.destroy(error)).pipe(req);
  });
}
