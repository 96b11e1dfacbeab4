/**
 * The site a scenario's device pairs into, with its site server: by default a new site in the cloud and a fresh
 * in-process mock site server on free ports (so presence, counters and `seq` books start empty); or an attached
 * site server (`--site-url`), whose site is read from its `/health` and whose faults are reset afterwards.
 */
import { startMockSiteServer } from '../../mock/site-server/index.js';
import type { CloudHandle } from './cloud.js';
import type { LogBuffer } from './log-buffer.js';
import { SiteControlClient } from './site-control.js';
import { RigFault } from '../scenario-kit/errors.js';

export interface SiteHandle {
  orgId: string;
  siteId: string;
  mqttUrl: string;
  httpUrl: string;
  /** The edge-facing HTTPS API (`register`) and its key fingerprint, as the site server reports them (issue 15). */
  edgeUrl: string | null;
  fingerprint: string | null;
  control: SiteControlClient;
  own: boolean;
  close(): Promise<void>;
}

export interface SiteSetup {
  attachUrl?: string;
  host: string;
  publicHost?: string;
  /** Names the new site (its slug gets a random suffix). */
  label: string;
  logs: LogBuffer;
}

/** How often an own site server re-reads the edge list: short, so a revocation reaches live sessions quickly. */
const TRUST_REFRESH_SECONDS = 2;

export async function provideSite(cloud: CloudHandle, setup: SiteSetup): Promise<SiteHandle> {
  if (setup.attachUrl) {
    // The attached server's token comes from the environment, never a flag: a command line is visible in `ps`.
    const control = new SiteControlClient(setup.attachUrl, process.env.CONSYSTENCE_SITE_CONTROL_TOKEN);
    const health = await control.health();
    // /health needs no token; check the token now, so a missing one is a rig fault at once, not a device that
    // "never came online" half a minute later.
    await control.edges().catch((error: unknown) => {
      throw new RigFault(
        `the attached site server's control API refused this rig (${(error as Error).message}): set ` +
          'CONSYSTENCE_SITE_CONTROL_TOKEN to its control token (its ready line or --control-token-file)',
      );
    });
    return {
      orgId: cloud.orgId,
      siteId: health.siteId,
      mqttUrl: health.mqttUrl,
      httpUrl: setup.attachUrl,
      // The fingerprint from the attached server's own /health: the rig trusts its control API already.
      edgeUrl: health.edgeUrl ?? null,
      fingerprint: health.fingerprint ?? null,
      control,
      own: false,
      close: async () => void (await control.faults.reset().catch(() => undefined)),
    };
  }
  const slug = `${setup.label
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 40)}-${Math.random().toString(36).slice(2, 8)}`.replace(/^-+/, '');
  const site = await cloud.admin.createSite(cloud.orgId, {
    name: `HIL ${setup.label}`,
    slug,
    timezone: 'Australia/Perth',
  });
  const server = await startMockSiteServer(
    {
      cloud: cloud.url,
      orgId: cloud.orgId,
      siteId: site.id,
      token: cloud.adminToken,
      host: setup.host,
      ...(setup.publicHost ? { publicHost: setup.publicHost } : {}),
      mqttPort: 0,
      httpPort: 0,
      refreshSeconds: TRUST_REFRESH_SECONDS,
    },
    { logger: setup.logs.logger('mock-site-server') },
  );
  return {
    orgId: cloud.orgId,
    siteId: site.id,
    mqttUrl: server.mqttUrl,
    httpUrl: server.httpUrl,
    edgeUrl: server.edgeUrl,
    fingerprint: server.fingerprint,
    control: new SiteControlClient(server.httpUrl, server.controlToken),
    own: true,
    close: () => server.close(),
  };
}
