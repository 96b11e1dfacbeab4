/**
 * First-start registration with the cloud (CONTRACT §2 register-server), or reuse of the one kept in the
 * database. The site token is verified with the cloud's JWKS before it is stored; its `iss` becomes the issuer
 * every edge token must carry, so a token from some other issuer sharing a key id is still refused.
 */
import { createHash } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import * as machineIdModule from 'node-machine-id';
import packageJson from '../../../../package.json' with { type: 'json' };
import type { Logger } from '../../../common/log/log.js';
import { Hostname, verifySiteToken, type SiteSigningKey } from '../../../protocol/index.js';
import { SiteServerError } from '../errors.js';
import type { SiteServerOptions } from '../options.js';
import type { CloudClient } from './cloud-client.js';
import type { Endpoints, Registration, TrustStore } from './trust-store.js';

export const SERVER_VERSION: string = packageJson.version;

/** node-machine-id is CommonJS: its function sits on the namespace under Bun and on `default` under Node. */
function machineHardwareId(): string {
  const mod = machineIdModule as unknown as {
    machineIdSync?: (o: boolean) => string;
    default?: { machineIdSync: (o: boolean) => string };
  };
  const fn = mod.machineIdSync ?? mod.default?.machineIdSync;
  if (!fn) throw new SiteServerError('USAGE', 'cannot read the machine id; pass --hardware-id');
  return createHash('sha256').update(fn(true).trim()).digest('hex');
}

function localHostname(): string {
  const name = osHostname();
  return Hostname.safeParse(name).success ? name : 'site-server';
}

export const hardwareIdOf = (options: SiteServerOptions): string => options.hardwareId ?? machineHardwareId();
export const hostnameOf = (options: SiteServerOptions): string => options.publicHost ?? localHostname();

export async function ensureRegistration(
  options: SiteServerOptions,
  store: TrustStore,
  cloud: CloudClient,
  endpoints: Endpoints,
  logger: Logger,
  signingKey: SiteSigningKey,
): Promise<Registration> {
  const existing = store.registration();
  if (existing) {
    if (existing.orgId !== options.orgId || existing.siteId !== options.siteId) {
      throw new SiteServerError(
        'WRONG_DATABASE',
        `the database ${options.db} belongs to site ${existing.siteId} of organisation ${existing.orgId}; use another --db for site ${options.siteId}`,
      );
    }
    // A change of address, port or CA is registered by registration-update.ts, with this server's own token.
    return existing;
  }
  const bearer = options.code ?? options.token;
  if (!bearer)
    throw new SiteServerError(
      'USAGE',
      `no registration in ${options.db} yet: the first start needs --code CODE (a pairing code) or --token TOKEN (an admin access token)`,
    );

  let registration: Registration;
  try {
    const answer = await cloud.registerServer(bearer, {
      hardwareId: hardwareIdOf(options),
      version: SERVER_VERSION,
      hostname: hostnameOf(options),
      endpoints,
      signingKey,
    });
    if (answer.config.siteId !== options.siteId || answer.config.orgId !== options.orgId) {
      throw new SiteServerError(
        'REGISTRATION_FAILED',
        'the cloud registered this server for another site or organisation',
      );
    }
    const jwks = await cloud.jwks();
    const claims = await verifySiteToken(answer.siteToken, jwks);
    if (claims.sub !== options.siteId)
      throw new SiteServerError('REGISTRATION_FAILED', 'the site token the cloud returned is for another site');
    registration = {
      cloudUrl: options.cloud,
      orgId: options.orgId,
      siteId: options.siteId,
      issuer: claims.iss,
      siteToken: answer.siteToken,
      config: answer.config,
      mqttUrl: endpoints.mqtt,
      endpoints,
      registeredAt: new Date().toISOString(),
    };
    store.saveRegistration(registration, jwks, registration.registeredAt);
  } catch (error) {
    if (error instanceof SiteServerError) throw error;
    throw new SiteServerError(
      'REGISTRATION_FAILED',
      `failed to register this site server with the cloud: ${(error as Error).message}`,
      { cause: error },
    );
  }
  logger.info('registered', {
    siteId: options.siteId,
    mqtt: endpoints.mqtt,
    caSent: endpoints.caCertificatePem !== undefined,
  });
  return registration;
}
