/**
 * Where the site server is, beyond what pairing saved (issue 17). The registration's `config.siteServer` is the
 * endpoint in use; beside it this store keeps, in the kv table:
 *
 * - `site.candidate`: a connection the cloud signed (token refresh, `cfg` claim) that this device has not yet seen
 *   accept it. It is tried, and becomes the one in use only after a CONNACK 0 from it.
 * - `site.fallback`: the endpoint in use before the last switch, kept so the device can go back to it if the new
 *   one stops working. A device therefore always holds at least one endpoint and CA that worked.
 *
 * Every change is one credential transaction with the registration, so a power cut leaves either the old or the
 * new state, never a device that trusts nothing.
 */
import { z } from 'zod';
import { SiteConnection, sameSiteConnection, type EdgeConfig } from '../../protocol/index.js';
import { credentialTransaction } from './credential-transaction.js';
import type { KvStore } from './kv-store.js';
import type { RegistrationStore } from './registration-store.js';
import type { Db } from '../../storage/index.js';

const CANDIDATE_KEY = 'site.candidate';
const FALLBACK_KEY = 'site.fallback';

const Candidate = z.object({ connection: SiteConnection, offeredAt: z.string() });
export type Candidate = z.infer<typeof Candidate>;

/** The connection part of a saved config (what the cloud signs; topic prefix and keep-alive are the device's own). */
export function connectionOf(siteServer: EdgeConfig['siteServer']): SiteConnection {
  const { url, caCertificatePem } = siteServer.mqtt;
  return { url: siteServer.url, mqtt: { url, ...(caCertificatePem !== undefined ? { caCertificatePem } : {}) } };
}

/** `siteServer` with another connection: the same topic prefix and keep-alive, the new URLs and CA bundle. */
export function withConnection(
  siteServer: EdgeConfig['siteServer'],
  connection: SiteConnection,
): EdgeConfig['siteServer'] {
  const { caCertificatePem: _old, ...mqtt } = siteServer.mqtt;
  return { url: connection.url, mqtt: { ...mqtt, ...connection.mqtt } };
}

export class SiteEndpointStore {
  constructor(
    private readonly db: Db,
    private readonly kv: KvStore,
    private readonly registration: RegistrationStore,
  ) {}

  private read(key: string): unknown {
    const text = this.kv.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** The signed connection waiting to be tried, if any (a damaged row counts as none). */
  candidate(): Candidate | undefined {
    const parsed = Candidate.safeParse(this.read(CANDIDATE_KEY));
    return parsed.success ? parsed.data : undefined;
  }

  fallback(): SiteConnection | undefined {
    const parsed = SiteConnection.safeParse(this.read(FALLBACK_KEY));
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Records what the cloud says the site's connection is now (call inside the transaction that saves the token it
   * came with). The one in use: any waiting candidate is dropped. Anything else becomes the candidate.
   * Returns true when there is something new to try.
   */
  offer(connection: SiteConnection, at: string): boolean {
    const reg = this.registration.get();
    if (!reg) return false;
    if (sameSiteConnection(connection, connectionOf(reg.config.siteServer))) {
      this.kv.delete(CANDIDATE_KEY);
      return false;
    }
    const waiting = this.candidate();
    if (waiting && sameSiteConnection(waiting.connection, connection)) return false;
    this.kv.set(CANDIDATE_KEY, JSON.stringify({ connection, offeredAt: at }));
    return true;
  }

  /** Offers the saved fallback as the candidate (the endpoint in use stopped working and the cloud did not help). */
  offerFallback(at: string): boolean {
    const fallback = this.fallback();
    return fallback ? credentialTransaction(this.db, () => this.offer(fallback, at)) : false;
  }

  /**
   * The candidate accepted this device: it becomes the endpoint in use and the previous one the fallback, in one
   * transaction. A candidate replaced meanwhile (a newer offer) is not committed.
   */
  commit(connection: SiteConnection): boolean {
    return credentialTransaction(this.db, () => {
      const reg = this.registration.get();
      const waiting = this.candidate();
      if (!reg || !waiting || !sameSiteConnection(waiting.connection, connection)) return false;
      this.kv.set(FALLBACK_KEY, JSON.stringify(connectionOf(reg.config.siteServer)));
      this.registration.updateConfig({ ...reg.config, siteServer: withConnection(reg.config.siteServer, connection) });
      this.kv.delete(CANDIDATE_KEY);
      return true;
    });
  }

  /** Pairing again starts from what the cloud gave: nothing to try, nothing to go back to. */
  clear(): void {
    this.kv.delete(CANDIDATE_KEY);
    this.kv.delete(FALLBACK_KEY);
  }
}
