/**
 * Uploads a support bundle to the URL a `support-bundle` command named: HTTP PUT with the edge token as bearer,
 * never over MQTT. The token is sent only to the site server's own origin as registration gave it (scheme, host
 * and port, compared as parsed WHATWG origins, so `2130706433` and `127.0.0.1` are one host and a different
 * port is another server), never to a URL with userinfo, and never over plain http when the MQTT link is
 * mqtts; over https the CA delivered at pairing is trusted, or, for a device registered through its site server,
 * only the key pinned then (issue 15). The size cap is checked before anything is sent.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SupportBundleArgs } from '../../protocol/index.js';
import type { SiteFingerprint } from '../../protocol/index.js';
import { pinnedTlsOptions } from '../session/tls.js';
import { fingerprintPinnedFetch } from '../site-server/pinned-https.js';

export interface UploadTarget {
  /** The site server's HTTP URL from registration: the only origin an upload may go to. */
  siteUrl: string;
  /** The site server's broker URL: an mqtts link means the upload must be https too. */
  brokerUrl: string;
  /** The site CA delivered at pairing, trusted for https uploads (as for mqtts). */
  caPem?: string;
  token: string;
  timeoutMs?: number;
  /** The site server pinned at `register`: its origin is trusted by this key fingerprint, never by a CA. */
  sitePin?: { siteServerUrl: string; fingerprint: SiteFingerprint };
}

const MAX_ANSWER_BYTES = 16 * 1024;

export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/** The upload URL, parsed, if the edge token may be sent there; otherwise why not. */
export function checkedUploadUrl(
  uploadUrl: string,
  target: Pick<UploadTarget, 'siteUrl' | 'brokerUrl'>,
  what = 'upload URL',
): URL {
  const url = new URL(uploadUrl);
  const site = new URL(target.siteUrl);
  const refuse = (why: string) => new Error(`the ${what} ${why}; the edge token is not sent there`);
  if (url.username || url.password) throw refuse('carries a user name or password');
  if (url.origin !== site.origin) throw refuse(`is not on the site server (${site.origin}) but on ${url.origin}`);
  if (new URL(target.brokerUrl).protocol === 'mqtts:' && url.protocol !== 'https:')
    throw refuse('is not https while the link to the site server is mqtts');
  return url;
}

export async function uploadBundle(
  args: SupportBundleArgs,
  data: Buffer,
  sha256: string,
  target: UploadTarget,
): Promise<{ id: string }> {
  if (data.length > args.maxBytes)
    throw new Error(`the bundle is ${data.length} bytes, over the ${args.maxBytes} bytes the site accepts; not sent`);
  const url = checkedUploadUrl(args.uploadUrl, target);
  if (target.sitePin && url.origin === new URL(target.sitePin.siteServerUrl).origin)
    return uploadPinned(url, data, sha256, target, target.sitePin.fingerprint);
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
          try {
            resolve(uploadAnswer(res.statusCode ?? 0, answer));
          } catch (error) {
            reject(error as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('the upload timed out')));
    req.on('error', (error) => reject(new Error(`the upload failed: ${error.message}`)));
    req.end(data);
  });
}

/** The upload over the fingerprint-pinned transport: the same request, the same reading of the answer. */
async function uploadPinned(
  url: URL,
  data: Buffer,
  sha256: string,
  target: UploadTarget,
  fingerprint: SiteFingerprint,
): Promise<{ id: string }> {
  let response: Response;
  try {
    response = await fingerprintPinnedFetch(fingerprint)(url.href, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${target.token}`,
        'content-type': 'application/gzip',
        'x-content-sha256': sha256,
      },
      body: data,
      signal: AbortSignal.timeout(target.timeoutMs ?? 60_000),
    });
  } catch (error) {
    const cause = (error as { cause?: Error }).cause;
    throw new Error(`the upload failed: ${(cause ?? (error as Error)).message}`);
  }
  return uploadAnswer(response.status, (await response.text()).slice(0, MAX_ANSWER_BYTES));
}

/** The upload's id from a 2xx answer; anything else is the site server's refusal in its own words. */
function uploadAnswer(status: number, answer: string): { id: string } {
  let body: { id?: unknown; error?: { code?: string; message?: string } } = {};
  try {
    body = JSON.parse(answer) as typeof body;
  } catch {
    // Not JSON: the status says enough.
  }
  if (status >= 200 && status < 300 && typeof body.id === 'string') return { id: body.id };
  throw new Error(
    `the site server refused the upload: ${status} ${body.error?.code ?? ''} ${body.error?.message ?? answer.slice(0, 200)}`.trim(),
  );
}
