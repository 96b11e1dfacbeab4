/**
 * Control-API errors in the contract's shape (CONTRACT §1): `{error:{code,message,details?}}`. Bodies are parsed
 * with zod strict schemas; any problem becomes a 400 naming the field.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { HttpError } from '../../../common/http/http-error.js';

export function errorResponse(c: Context, error: HttpError<string>) {
  return c.json(error.body, error.status as ContentfulStatusCode, error.headers);
}

/**
 * Reads and validates a JSON body (already capped while streaming, by the app's body limit); an empty body is
 * read as `{}` so routes with all-optional fields work.
 */
export async function readBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const text = await c.req.text();
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
