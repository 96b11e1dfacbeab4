/**
 * What the release scripts share: flag parsing (the build scripts' strict parser), the private release key
 * file, signing a JWS with the pinned algorithm, and writing output files that never replace an existing one.
 */
import { constants, closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { CompactSign, importJWK, type JWK } from 'jose';
import { z } from 'zod';
import { RELEASE_SIGNING_ALGORITHM, TrustedReleaseKey } from '../../src/protocol/release.js';
import { readRegularFile } from '../../src/storage/index.js';
import { UsageError } from '../build/targets.js';

export { parseFlags, ROOT, runMain, sourceDateTime, UsageError } from '../build/targets.js';

/** A private release key as `release:keygen` writes it: a P-256 JWK with its `d` and the `kid` it signs as. */
export const PrivateReleaseJwk = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  d: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  kid: TrustedReleaseKey.shape.kid,
});
export type PrivateReleaseJwk = z.infer<typeof PrivateReleaseJwk>;

/** Reads and validates a JSON file given on the command line; every problem is a usage error naming the flag. */
export function readJsonFlag<T extends z.ZodType>(flag: string, path: string, schema: T, what: string): z.infer<T> {
  let text: string | undefined;
  try {
    text = readRegularFile(path, 1024 * 1024);
  } catch (error) {
    throw new UsageError(`--${flag}: ${(error as Error).message}`);
  }
  if (text === undefined) throw new UsageError(`--${flag}: ${path} does not exist`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--${flag}: ${path} is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Never echo the value: a private key file's content must not reach a terminal or a CI log.
    throw new UsageError(
      `--${flag}: ${path} is not ${what} (${issue?.path.join('.') || 'top level'}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

/** The trusted-key entry `{kid, jwk}` of a private key: what a device would hold to verify its signatures. */
export const publicHalf = (key: PrivateReleaseJwk): TrustedReleaseKey => ({
  kid: key.kid,
  jwk: { kty: 'EC', crv: 'P-256', x: key.x, y: key.y },
});

export const readPrivateKey = (path: string): PrivateReleaseJwk =>
  readJsonFlag('key', path, PrivateReleaseJwk, 'a private release key (run npm run release:keygen)');

/** Signs `payload` as a compact JWS, ES256, with the key's `kid` and the document type in the protected header. */
export async function signJws(key: PrivateReleaseJwk, typ: string, payload: unknown): Promise<string> {
  const privateKey = await importJWK(key as JWK, RELEASE_SIGNING_ALGORITHM);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: RELEASE_SIGNING_ALGORITHM, kid: key.kid, typ })
    .sign(privateKey);
}

/** Creates `path` with `data`; refuses an existing file or a link, fsyncs. */
export function writeNewFile(path: string, data: string | Uint8Array, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'EEXIST' ? `${path} already exists; it is never overwritten` : `cannot create ${path} (${code})`,
    );
  }
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    unlinkSync(path);
    throw error;
  } finally {
    closeSync(fd);
  }
}
