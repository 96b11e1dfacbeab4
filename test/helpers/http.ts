/** Where a control API is and the bearer token it wants (a `MockSiteServer`, or the fields of a ready line). */
export interface ControlTarget {
  httpUrl: string;
  controlToken: string;
}

/**
 * A JSON request to a control API: the status and the parsed body (or the raw text when it is not JSON). Given a
 * `ControlTarget`, the request carries its bearer token; given a bare URL, none.
 */
export async function api(
  target: string | ControlTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const baseUrl = typeof target === 'string' ? target : target.httpUrl;
  const headers: Record<string, string> =
    typeof target === 'string' ? {} : { authorization: `Bearer ${target.controlToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep the text */
  }
  return { status: response.status, body: parsed };
}
