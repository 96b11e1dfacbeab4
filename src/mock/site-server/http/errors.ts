/**
 * Control-API errors in the contract's shape (CONTRACT §1): `{error:{code,message,details?}}`. Bodies are read
 * with a size cap and parsed with zod strict schemas; any problem becomes a 400 naming the field.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { MAX_REQUEST_BYTES } from '../../../protocol/index.js';
import { HttpError } from '../../../common/http/http-error.js';

export function errorResponse(c: Context, error: HttpError<string>) {
  return c.json(error.body, error.status as ContentfulStatusCode);
}

/** Reads and validates a JSON body; an empty body is read as `{}` so routes with all-optional fields work. */
export async function readBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const tooLarge = () => new HttpError(413, 'PAYLOAD_TOO_LARGE', `bodies are limited to ${MAX_REQUEST_BYTES} bytes`);
  if (Number(c.req.header('content-length') ?? 0) > MAX_REQUEST_BYTES) throw tooLarge();
  const text = await c.req.text();
  if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) throw tooLarge();
  let json: unknown = {};
  if (text.trim()) {
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'VALIDATION_ERROR', 'the body is not valid JSON');
    }
  }
  return parseOrThrow(schema, json);
}

export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const details = parsed.error.issues
      .slice(0, 20)
      .map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
    throw new HttpError(
      400,
      'VALIDATION_ERROR',
      `invalid request: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
      details,
    );
  }
  return parsed.data;
}
