/**
 * Verification of a device-key assertion (CONTRACT: the refresh route), shared by the cloud and the site server:
 * verified with the registration's device key and the algorithm its key type pins, `aud` = the route's exact
 * public URL, `iss` = `sub` = the registration, at most a minute of clock leeway, and an `iat` no later than the
 * verifier's clock plus that leeway (an assertion dated ahead would otherwise stay usable until its future expiry,
 * and `jti` replay records are kept only until `exp`). Recording each `jti` once stays with each verifier's store.
 */
import { decodeJwt, importJWK, type JWK, jwtVerify } from 'jose';
import { algorithmForJwk, type PublicJwk, Uuid } from './common.js';
import { DeviceAssertionClaims } from './tokens.js';

/** Device clocks drift; a minute of leeway on iat/exp, no more. */
export const ASSERTION_CLOCK_TOLERANCE_SECONDS = 60;

/** Why an assertion was refused, as a phrase for "the assertion is not valid: …". */
export class AssertionVerificationError extends Error {
  override readonly name = 'AssertionVerificationError';
}

/**
 * The registration an assertion claims to come from (its `iss`), read before verification only to pick the key;
 * undefined when it is not a uuid.
 */
export function claimedAssertionIssuer(assertion: string): string | undefined {
  let issuer: unknown;
  try {
    issuer = decodeJwt(assertion).iss;
  } catch {
    throw new AssertionVerificationError('not a JWT');
  }
  const uuid = Uuid.safeParse(issuer);
  return uuid.success ? uuid.data : undefined;
}

export interface AssertionExpectations {
  /** The registration's uuid: the assertion's `iss` and `sub`. */
  registrationId: string;
  /** The registration's device key. */
  publicJwk: PublicJwk;
  /** The route's exact public URL. */
  audience: string;
  /** The verifier's clock. */
  now: Date;
  /** Whose clock `now` is, for the message when `iat` is ahead ("the cloud's", "the site server's"). */
  clockOwner: string;
}

export async function verifyDeviceAssertion(
  assertion: string,
  expected: AssertionExpectations,
): Promise<DeviceAssertionClaims> {
  const algorithm = algorithmForJwk(expected.publicJwk);
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(assertion, await importJWK(expected.publicJwk as JWK, algorithm), {
      algorithms: [algorithm],
      audience: expected.audience,
      issuer: expected.registrationId,
      subject: expected.registrationId,
      currentDate: expected.now,
      clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['iat', 'exp', 'jti'],
    }));
  } catch (error) {
    throw new AssertionVerificationError((error as { code?: string }).code ?? 'verification failed');
  }
  const claims = DeviceAssertionClaims.safeParse(payload);
  if (!claims.success) throw new AssertionVerificationError(claims.error.issues[0]?.message ?? 'bad claims');
  const aheadSeconds = claims.data.iat - Math.floor(expected.now.getTime() / 1000);
  if (aheadSeconds > ASSERTION_CLOCK_TOLERANCE_SECONDS)
    throw new AssertionVerificationError(
      `iat is ${aheadSeconds} s ahead of ${expected.clockOwner} clock (${ASSERTION_CLOCK_TOLERANCE_SECONDS} s allowed); sign it with the server's time`,
    );
  return claims.data;
}
