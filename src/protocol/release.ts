/**
 * Release bundles (issue 13): what is signed, how a bundle file is laid out, and how anyone verifies it.
 *
 * A bundle file is one line holding the manifest as a compact JWS, a `\n`, then the artifact (gzip). The
 * manifest's `size` and `sha256` describe the artifact bytes after that newline, so the site server can serve the
 * artifact alone (with `Range`) and the manifest travels in `P/update`. Manifests are signed with ES256 by a release
 * key the device trusts (`kid`); the trusted set is built into the binary and changed only by a key-rotation
 * document signed by a key already trusted. Nothing expires: a board whose clock says 1970 still verifies.
 */
import { compactVerify, importJWK } from 'jose';
import { z } from 'zod';
import { IsoDateTime, PublicJwk, Version } from './common.js';

export const RELEASE_SIGNING_ALGORITHM = 'ES256' as const;
export const RELEASE_JWS_TYPE = 'consystence-release+jws';
export const RELEASE_KEYS_JWS_TYPE = 'consystence-release-keys+jws';
/** The manifest line of a bundle file may be at most this long; a longer first line is not a bundle. */
export const MAX_MANIFEST_JWS_BYTES = 16_384;

export const ReleaseKind = z.enum(['runtime', 'model']);
export type ReleaseKind = z.infer<typeof ReleaseKind>;
export const ReleaseArch = z.enum(['x64', 'arm64']);
export type ReleaseArch = z.infer<typeof ReleaseArch>;
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex SHA-256');
export const ReleaseName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes');
/**
 * A release's version names a folder on the device (`releases/<version>/`, `models/<name>/<version>/`): on top of
 * `Version`, it starts with a digit and holds no `..`, so no signed manifest can name `..`, `.`, or a folder's
 * link (`current`, `previous`, `factory`).
 */
export const ReleaseVersion = Version.regex(/^[0-9](?!.*\.\.)/, 'a version such as 1.2.3, starting with a digit');

/** A file of a model bundle: a relative path without `..`, empty or hidden segments. */
export const ModelFile = z.strictObject({
  path: z
    .string()
    .max(255)
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/, 'a relative path without ..'),
  size: z.number().int().min(0),
  sha256: Sha256Hex,
});
export type ModelFile = z.infer<typeof ModelFile>;

export const ReleaseManifest = z
  .strictObject({
    kind: ReleaseKind,
    name: ReleaseName,
    version: ReleaseVersion,
    /** `any` only for models (weights are not machine code). */
    arch: z.union([ReleaseArch, z.literal('any')]),
    /** Bytes of the artifact (compressed) and their SHA-256. */
    size: z
      .number()
      .int()
      .min(1)
      .max(2 ** 32),
    sha256: Sha256Hex,
    compression: z.literal('gzip'),
    /** Bytes once installed (uncompressed): the device checks free space for the download and the install. */
    installedSize: z
      .number()
      .int()
      .min(1)
      .max(2 ** 36),
    createdAt: IsoDateTime,
    notes: z.string().max(4096).optional(),
    /** `model` only: the files the artifact (a gzipped ustar) holds, each checked after unpacking. */
    files: z.array(ModelFile).min(1).max(1000).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.kind === 'runtime' && (m.arch === 'any' || m.files))
      ctx.addIssue({ code: 'custom', path: ['arch'], message: 'a runtime names x64 or arm64 and has no files' });
    if (m.kind === 'model' && !m.files)
      ctx.addIssue({ code: 'custom', path: ['files'], message: 'a model lists its files' });
  });
export type ReleaseManifest = z.infer<typeof ReleaseManifest>;

/** A release public key the device trusts: P-256 only, since every release signature is ES256. */
export const TrustedReleaseKey = z.strictObject({
  kid: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, dot, dash or underscore'),
  jwk: PublicJwk.refine((jwk) => jwk.kty === 'EC', { message: 'a release key is an EC P-256 key (ES256)' }),
});
export type TrustedReleaseKey = z.infer<typeof TrustedReleaseKey>;

/** Up to 8 keys with distinct kids: a duplicate kid would make which key verifies a matter of list order. */
const TrustedReleaseKeys = z
  .array(TrustedReleaseKey)
  .min(1)
  .max(8)
  .refine((keys) => new Set(keys.map((k) => k.kid)).size === keys.length, { message: 'two keys share a kid' });

/**
 * The trusted set built into a binary (`keys/release-keys.json`, or the file given to `build-binary
 * --release-keys`): unsigned, because the binary itself is what carries it. `sequence` is that of the last
 * rotation document it already includes (0 for a first set), so a device keeps a stored rotation only while it
 * is newer than what its binary ships.
 */
export const TrustedReleaseKeySet = z.strictObject({
  sequence: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31),
  keys: TrustedReleaseKeys,
});
export type TrustedReleaseKeySet = z.infer<typeof TrustedReleaseKeySet>;

/**
 * A key-rotation document's payload: the complete new trusted set (a key left out is revoked), with a `sequence`
 * above the one the device holds, so an older document can never be replayed to bring a revoked key back.
 */
export const ReleaseKeysDocument = z.strictObject({
  typ: z.literal('release-keys'),
  sequence: z
    .number()
    .int()
    .min(1)
    .max(2 ** 31),
  keys: TrustedReleaseKeys,
  issuedAt: IsoDateTime,
});
export type ReleaseKeysDocument = z.infer<typeof ReleaseKeysDocument>;

export class ReleaseVerificationError extends Error {
  override readonly name = 'ReleaseVerificationError';
  constructor(
    /** `BAD_SIGNATURE` (not signed by a trusted key) or `BAD_MANIFEST` (signed, but not a valid document). */
    readonly code: 'BAD_SIGNATURE' | 'BAD_MANIFEST',
    message: string,
  ) {
    super(message);
  }
}

async function verifySigned(jws: string, trusted: readonly TrustedReleaseKey[], typ: string) {
  try {
    const { payload, protectedHeader } = await compactVerify(
      jws,
      async (header) => {
        const key = trusted.find((k) => k.kid === header.kid);
        if (!key) throw new ReleaseVerificationError('BAD_SIGNATURE', `signed by an untrusted key (kid ${header.kid})`);
        return importJWK(key.jwk, RELEASE_SIGNING_ALGORITHM);
      },
      { algorithms: [RELEASE_SIGNING_ALGORITHM] },
    );
    if (protectedHeader.typ !== typ) throw new ReleaseVerificationError('BAD_MANIFEST', `not a ${typ} document`);
    return { payload, kid: protectedHeader.kid as string };
  } catch (error) {
    if (error instanceof ReleaseVerificationError) throw error;
    throw new ReleaseVerificationError('BAD_SIGNATURE', 'the signature does not verify');
  }
}

function parseJson<T extends z.ZodType>(schema: T, bytes: Uint8Array, what: string): z.infer<T> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ReleaseVerificationError('BAD_MANIFEST', `the ${what} is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ReleaseVerificationError(
      'BAD_MANIFEST',
      `the ${what} is invalid: ${issue?.path.join('.')} ${issue?.message}`,
    );
  }
  return parsed.data;
}

/** Verifies a manifest JWS against the trusted keys (no clock involved) and returns it with the signer's `kid`. */
export async function verifyReleaseManifest(
  jws: string,
  trusted: readonly TrustedReleaseKey[],
): Promise<{ manifest: ReleaseManifest; kid: string }> {
  const { payload, kid } = await verifySigned(jws, trusted, RELEASE_JWS_TYPE);
  return { manifest: parseJson(ReleaseManifest, payload, 'manifest'), kid };
}

/**
 * Verifies a key-rotation document: signed by a key trusted now, and newer than `currentSequence`. Returns the
 * document; the caller replaces its trusted set with `keys` and stores `sequence`, in one transaction.
 */
export async function verifyReleaseKeys(
  jws: string,
  trusted: readonly TrustedReleaseKey[],
  currentSequence: number,
): Promise<ReleaseKeysDocument> {
  const { payload } = await verifySigned(jws, trusted, RELEASE_KEYS_JWS_TYPE);
  const doc = parseJson(ReleaseKeysDocument, payload, 'key-rotation document');
  if (doc.sequence <= currentSequence)
    throw new ReleaseVerificationError(
      'BAD_MANIFEST',
      `key-rotation document ${doc.sequence} is not newer than the one held (${currentSequence})`,
    );
  return doc;
}

/**
 * Orders versions as semver does for `MAJOR.MINOR.PATCH[-pre][+build]` (build ignored, a pre-release below its
 * release); anything else compares as text after the numeric parts. Negative: a < b.
 */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core = '', pre] = v.split('+')[0]!.split(/-(.*)/s);
    return { nums: core.split('.').map((n) => (/^\d+$/.test(n) ? Number(n) : Number.NaN)), pre };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const p = x.nums[i] ?? 0;
    const q = y.nums[i] ?? 0;
    if (Number.isNaN(p) || Number.isNaN(q)) return a < b ? -1 : a > b ? 1 : 0;
    if (p !== q) return p < q ? -1 : 1;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  const xs = x.pre.split('.');
  const ys = y.pre.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
    const p = xs[i];
    const q = ys[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) < Number(q) ? -1 : 1;
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}
