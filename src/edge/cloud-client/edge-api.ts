/**
 * The two calls an edge makes to the cloud (CONTRACT §3): register-edge and token refresh. Each answer is
 * classified once here: 2xx parsed with zod, 429/5xx retryable with their Retry-After, any other status a
 * final refusal carrying the cloud's code and a plain-language message.
 */
import type { z } from 'zod';
import {
  ErrorBody,
  IDEMPOTENCY_KEY_HEADER,
  RegisterEdgeResponse,
  TokenRefreshResponse,
  type RegisterEdgeRequest,
  CLOUD_ROUTES,
  cloudUrl,
  edgeTokenUrl,
} from '../../protocol/index.js';
import { parseRetryAfter } from '../backoff.js';
import { EdgeError } from '../errors.js';
import { cloudCall, CloudCallError, type CloudResponse, type FetchLike } from './http.js';
import { describeCloudError } from './messages.js';

export interface CloudTarget {
  cloudUrl: string;
  orgId: string;
  siteId: string;
}

export const registerUrl = (t: CloudTarget) => cloudUrl(t.cloudUrl, CLOUD_ROUTES.registerEdge, t);
export const refreshUrl = (t: CloudTarget, edgeId: string) => edgeTokenUrl(t.cloudUrl, { ...t, edgeId });

export function classify<T extends z.ZodType>(
  response: CloudResponse,
  okStatus: number[],
  schema: T,
  now: number,
): z.infer<T> {
  const { status } = response;
  if (status === 429 || status >= 500) {
    throw new CloudCallError(`the cloud is busy or unavailable (HTTP ${status})`, 'http', true, {
      status,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), now),
      response,
    });
  }
  if (okStatus.includes(status)) {
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) {
      const where = parsed.error.issues
        .slice(0, 3)
        .map((i) => i.path.join('.') || '(body)')
        .join(', ');
      throw new CloudCallError(`the cloud's answer does not match the contract (${where})`, 'malformed', false, {
        status,
        response,
      });
    }
    return parsed.data;
  }
  const error = ErrorBody.safeParse(response.body);
  const code = error.success ? error.data.error.code : undefined;
  const message = describeCloudError(code, error.success ? error.data.error.message : undefined, status);
  if (code === 'EDGE_REVOKED') throw new EdgeError('REVOKED', message, { cloudCode: code });
  throw new EdgeError('CLOUD_REFUSED', message, code !== undefined ? { cloudCode: code } : {});
}

export async function registerEdge(
  fetchImpl: FetchLike,
  target: CloudTarget,
  args: { code: string; idempotencyKey: string; body: RegisterEdgeRequest },
  now: () => number,
): Promise<{ value: RegisterEdgeResponse; response: CloudResponse }> {
  const response = await cloudCall(
    fetchImpl,
    {
      method: 'POST',
      url: registerUrl(target),
      headers: { authorization: `Bearer ${args.code}`, [IDEMPOTENCY_KEY_HEADER]: args.idempotencyKey },
      body: args.body,
    },
    now,
  );
  return { value: classify(response, [200, 201], RegisterEdgeResponse, now()), response };
}

export async function requestTokenRefresh(
  fetchImpl: FetchLike,
  url: string,
  assertion: string,
  now: () => number,
): Promise<{ value: TokenRefreshResponse; response: CloudResponse }> {
  const response = await cloudCall(
    fetchImpl,
    { method: 'POST', url, headers: { authorization: `Bearer ${assertion}` } },
    now,
  );
  return { value: classify(response, [200], TokenRefreshResponse, now()), response };
}
