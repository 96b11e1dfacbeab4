/** The cloud's signing keys, fetched over the same (pinned) base URL the device pairs with. */
import type { JSONWebKeySet } from 'jose';
import { CLOUD_ROUTES, cloudPath, Jwks } from '../../protocol/index.js';
import { cloudCall, CloudCallError, type CloudResponse, type FetchLike } from './http.js';

export async function fetchJwks(
  fetchImpl: FetchLike,
  cloudUrl: string,
  now: () => number,
): Promise<{ jwks: JSONWebKeySet; response: CloudResponse }> {
  const response = await cloudCall(
    fetchImpl,
    { method: 'GET', url: `${cloudUrl}${cloudPath(CLOUD_ROUTES.jwks)}` },
    now,
  );
  if (response.status === 429 || response.status >= 500) {
    throw new CloudCallError(`the cloud answered ${response.status}`, 'http', true, {
      status: response.status,
      response,
    });
  }
  const parsed = Jwks.safeParse(response.body);
  if (response.status !== 200 || !parsed.success) {
    throw new CloudCallError(`the cloud's key set is not usable (HTTP ${response.status})`, 'malformed', false, {
      status: response.status,
      response,
    });
  }
  return { jwks: parsed.data as unknown as JSONWebKeySet, response };
}
