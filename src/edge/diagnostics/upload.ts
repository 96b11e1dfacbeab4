/**
 * Uploads a support bundle to the URL a `support-bundle` command named: HTTP PUT with the edge token as bearer,
 * never over MQTT. The token is sent only to the site server this device already connects to (the URL's host
 * must be the broker's host), over https with the CA delivered at pairing when there is one; the size cap is
 * checked before anything is sent.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SupportBundleArgs } from '../../protocol/index.js';
import { pinnedTlsOptions } from '../session/tls.js';

export interface UploadTarget {
  /** The site server's broker URL: the upload must go to the same host. */
  brokerUrl: string;
  /** The site CA delivered at pairing, trusted for https uploads (as for mqtts). */
  caPem?: string;
  token: string;
  timeoutMs?: number;
}

const MAX_ANSWER_BYTES = 16 * 1024;

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

export async function uploadBundle(
  args: SupportBundleArgs,
  data: Buffer,
  sha256: string,
  target: UploadTarget,
): Promise<{ id: string }> {
  if (data.length > args.maxBytes)
    throw new Error(`the bundle is ${data.length} bytes, over the ${args.maxBytes} bytes the site accepts; not sent`);
  const url = new URL(args.uploadUrl);
  const siteHost = hostOf(new URL(target.brokerUrl));
  if (hostOf(url) !== siteHost)
    throw new Error(
      `the upload URL's host ${hostOf(url)} is not the site server (${siteHost}); the edge token is not sent there`,
    );
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${target.token}`,
          'content-type': 'application/gzip',
          'content-length': String(data.length),
          'x-content-sha256': sha256,
        },
        agent: false,
        timeout: target.timeoutMs ?? 60_000,
        ...(secure ? pinnedTlsOptions(hostOf(url), target.caPem) : {}),
      },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (answer.length < MAX_ANSWER_BYTES) answer += chunk;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let body: { id?: unknown; error?: { code?: string; message?: string } } = {};
          try {
            body = JSON.parse(answer) as typeof body;
          } catch {
            // Not JSON: the status says enough.
          }
          if (status >= 200 && status < 300 && typeof body.id === 'string') resolve({ id: body.id });
          else
            reject(
              new Error(
                `the site server refused the upload: ${status} ${body.error?.code ?? ''} ${body.error?.message ?? answer.slice(0, 200)}`.trim(),
              ),
            );
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('the upload timed out')));
    req.on('error', (error) => reject(new Error(`the upload failed: ${error.message}`)));
    req.end(data);
  });
}
