/**
 * A site server that moved (another address or port, or a new CA bundle during a rotation) under an existing
 * `--db` tells the cloud with its own site token (issue 17): the cloud keeps the same token and hands the new
 * endpoints to every edge at its next token refresh. An unreachable cloud does not stop the server: the update
 * is retried before every trust refresh until it lands.
 */
import type { Logger } from '../../../common/log/log.js';
import { siteConnectionHash } from '../../../protocol/index.js';
import type { CloudClient, RegisterServerBody } from './cloud-client.js';
import type { Endpoints, Registration, TrustStore } from './trust-store.js';

const asConnection = (e: Endpoints) => ({
  url: e.api,
  mqtt: { url: e.mqtt, ...(e.caCertificatePem !== undefined ? { caCertificatePem: e.caCertificatePem } : {}) },
});

/** True when edges would dial or trust something else than what the cloud was last told. */
export function endpointsChanged(registered: Endpoints | undefined, now: Endpoints): boolean {
  return !registered || siteConnectionHash(asConnection(registered)) !== siteConnectionHash(asConnection(now));
}

export interface RegistrationUpdate {
  /** Sends the update if it is still owed; resolves once the cloud has it. Rejects with the cloud's error. */
  flush(): Promise<void>;
  readonly pending: boolean;
}

export function registrationUpdate(
  store: TrustStore,
  cloud: CloudClient,
  body: RegisterServerBody & { endpoints: Endpoints },
  logger: Logger,
): RegistrationUpdate {
  let pending = endpointsChanged(store.registration()?.endpoints, body.endpoints);
  return {
    get pending() {
      return pending;
    },
    async flush() {
      const registration = store.registration();
      if (!pending || !registration) return;
      const before = registration.endpoints;
      await cloud.registerServer(registration.siteToken, body);
      const updated: Registration = { ...registration, mqttUrl: body.endpoints.mqtt, endpoints: body.endpoints };
      store.updateRegistration(updated);
      pending = false;
      logger.info('registration_updated', {
        from: before ? { api: before.api, mqtt: before.mqtt, caSent: before.caCertificatePem !== undefined } : null,
        to: {
          api: body.endpoints.api,
          mqtt: body.endpoints.mqtt,
          caSent: body.endpoints.caCertificatePem !== undefined,
        },
        note: 'paired edges learn the new endpoints at their next token refresh',
      });
    },
  };
}
