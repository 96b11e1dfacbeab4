/**
 * The two calls `register` makes to the site server's edge-facing API (`SITE_EDGE_ROUTES`), over the pinned
 * transport. Answers are classified like the cloud's (edge-api.ts), with one difference: a site server that cannot
 * reach the cloud and has no offline licence file answers 503 `CLOUD_UNREACHABLE`, which is final here (retrying
 * for minutes will not give it a licence file) and told in words that say what the site admin can do; and 504
 * `REGISTRATION_OUTCOME_UNKNOWN` (the cloud's answer was lost on its way to the site server) is retried with the
 * same Idempotency-Key like any 5xx, and if it persists is told as "a licence may be bound", never "nothing was".
 */
import {
  IDEMPOTENCY_KEY_HEADER,
  REGISTRATION_OUTCOME_UNKNOWN,
  SITE_EDGE_ROUTES,
  SiteIdentity,
  SiteRegisterResponse,
  type SiteRegisterRequest,
  siteEdgeUrl,
} from '../../protocol/index.js';
import { classify } from '../cloud-client/edge-api.js';
import { CloudCallError, cloudCall, type CloudResponse, type FetchLike } from '../cloud-client/http.js';
import { describeCloudError } from '../cloud-client/messages.js';
import { parseRetryAfter } from '../backoff.js';
import { EdgeError } from '../errors.js';

/** The register answer may carry the offline licence file (up to 256 KiB) and the cloud's key set. */
const MAX_REGISTER_ANSWER_BYTES = 512 * 1024;

const errorCodeOf = (body: unknown) => (body as { error?: { code?: unknown } } | undefined)?.error?.code;

/** Whether a failed `register` call ended with the site server not knowing what the cloud did. */
export const outcomeUnknown = (error: CloudCallError) =>
  errorCodeOf(error.extra.response?.body) === REGISTRATION_OUTCOME_UNKNOWN;

/**
 * The shared HTTP client words its failures for the cloud ("cannot reach the cloud", "the cloud did not answer in
 * time"); here they are the site server's, in the retry lines and the final error alike.
 */
export function inSiteServerWords(error: unknown): unknown {
  if (error instanceof CloudCallError) error.message = error.message.replace(/the cloud/g, 'the site server');
  return error;
}

async function speakingOfSiteServer<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw inSiteServerWords(error);
  }
}

export const fetchSiteIdentity = (fetchImpl: FetchLike, siteServerUrl: string, now: () => number) =>
  speakingOfSiteServer(() => identityAt(fetchImpl, siteServerUrl, now));

export const registerAtSite = (
  fetchImpl: FetchLike,
  siteServerUrl: string,
  args: { idempotencyKey: string; body: SiteRegisterRequest },
  now: () => number,
) => speakingOfSiteServer(() => registerAt(fetchImpl, siteServerUrl, args, now));

async function identityAt(
  fetchImpl: FetchLike,
  siteServerUrl: string,
  now: () => number,
): Promise<{ value: SiteIdentity; response: CloudResponse }> {
  const response = await cloudCall(
    fetchImpl,
    { method: 'GET', url: siteEdgeUrl(siteServerUrl, SITE_EDGE_ROUTES.identity) },
    now,
  );
  // The first call to the address given: a 404 means it is not a site server's edge API (a path copied along, the
  // cloud's or the portal's address), which no retry mends.
  if (response.status === 404)
    throw new EdgeError(
      'USAGE',
      `${siteServerUrl} answers, but not as a site server's edge API (404 for ${SITE_EDGE_ROUTES.identity}): give the site server's edge address with no path, such as https://site-server.local:5000, not the cloud's or the portal's address`,
    );
  return { value: classify(response, [200], SiteIdentity, now()), response };
}

async function registerAt(
  fetchImpl: FetchLike,
  siteServerUrl: string,
  args: { idempotencyKey: string; body: SiteRegisterRequest },
  now: () => number,
): Promise<{ value: SiteRegisterResponse; response: CloudResponse }> {
  const response = await cloudCall(
    fetchImpl,
    {
      method: 'POST',
      url: siteEdgeUrl(siteServerUrl, SITE_EDGE_ROUTES.register),
      headers: { [IDEMPOTENCY_KEY_HEADER]: args.idempotencyKey },
      body: args.body,
      maxBytes: MAX_REGISTER_ANSWER_BYTES,
    },
    now,
  );
  const code = errorCodeOf(response.body);
  if (response.status === 503 && code === 'CLOUD_UNREACHABLE')
    throw new EdgeError('CLOUD_UNREACHABLE', describeCloudError(code, undefined, 503), { cloudCode: code });
  if (code === REGISTRATION_OUTCOME_UNKNOWN)
    throw new CloudCallError(
      "the site server did not get the Consystence cloud's answer (the licence may be bound)",
      'http',
      true,
      {
        status: response.status,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), now()),
        response,
      },
    );
  return { value: classify(response, [200, 201], SiteRegisterResponse, now()), response };
}
