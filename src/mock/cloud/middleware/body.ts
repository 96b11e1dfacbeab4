/**
 * Request bodies: capped at 64 KiB (by Content-Length and while streaming, via hono's bodyLimit), parsed as
 * JSON, and validated by a strict zod schema. Each failure is an `HttpError`, so a bad body never reaches a
 * handler and never changes state.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { MAX_REQUEST_BYTES } from '../../../protocol/index.js';
import { HttpError } from '../../../common/http/http-error.js';

export function capBody(): MiddlewareHandler {
  return bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    onError: () => {
      // The rest of the body is never read, so the connection cannot carry another request: close it.
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${MAX_REQUEST_BYTES} bytes`, undefined, {
        Connection: 'close',
      });
    },
  });
}

/** Reads and validates a JSON body. With `emptyAs`, an empty body counts as that value (optional bodies). */
export async function readJson<T extends z.ZodType>(
  c: Context,
  schema: T,
  options: { emptyAs?: unknown } = {},
): Promise<z.infer<T>> {
  const text = await c.req.text();
  let value: unknown;
  if (text.trim() === '' && 'emptyAs' in options) {
    value = options.emptyAs;
  } else {
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'VALIDATION_ERROR', 'the body is not valid JSON', [
        { field: '(body)', message: 'not JSON' },
      ]);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw HttpError.validation(parsed.error);
  return parsed.data;
}

/** Validates path parameters; a malformed id is a 400 (a well-formed unknown one is a 404, decided later). */
export function readParams<T extends z.ZodType>(c: Context, schema: T): z.infer<T> {
  const parsed = schema.safeParse(c.req.param());
  if (!parsed.success) throw HttpError.validation(parsed.error, 'the path is not valid');
  return parsed.data;
}
