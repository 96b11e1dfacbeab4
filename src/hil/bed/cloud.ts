/**
 * The cloud a scenario talks to: a fresh in-process mock cloud (the default: nothing one scenario does to it,
 * faults, clock, short token lifetimes, can leak into the next), or an attached one (`--cloud-url`), whose
 * faults are reset when the scenario ends.
 */
import { DEMO_ORG_ID, DEMO_PASSWORD, DEMO_USERS, MockCloudClient, startMockCloud } from '../../mock/cloud/index.js';
import type { TrustedReleaseKey } from '../../protocol/release.js';
import type { LogBuffer } from './log-buffer.js';
import { freePort, urlHost } from './ports.js';

export interface CloudHandle {
  url: string;
  orgId: string;
  /** Logged in as the seed's admin. */
  admin: MockCloudClient;
  /** The admin's access token (the site server registers with it). */
  adminToken: string;
  /** True when this scenario started it (so it may be given options such as a short token lifetime). */
  own: boolean;
  close(): Promise<void>;
}

export interface CloudSetup {
  attachUrl?: string;
  orgId?: string;
  /** Where an own cloud listens, and the host devices reach it by. */
  host: string;
  publicHost?: string;
  edgeTokenTtlSeconds?: number;
  releaseKeys?: readonly TrustedReleaseKey[];
  logs: LogBuffer;
}

export async function provideCloud(setup: CloudSetup): Promise<CloudHandle> {
  if (setup.attachUrl) {
    const admin = new MockCloudClient(setup.attachUrl);
    // The attached cloud's control token comes from the environment, never a flag (a command line is public).
    if (process.env.CONSYSTENCE_CLOUD_CONTROL_TOKEN) admin.setControlToken(process.env.CONSYSTENCE_CLOUD_CONTROL_TOKEN);
    const login = await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
    return {
      url: setup.attachUrl,
      orgId: setup.orgId ?? DEMO_ORG_ID,
      admin,
      adminToken: login.accessToken,
      own: false,
      // Whatever this scenario armed must not reach the next one.
      close: async () => void (await admin.faults.reset().catch(() => undefined)),
    };
  }
  const publicHost = setup.publicHost ?? setup.host;
  // The public URL (token issuer, pairing URI) names the port, so it must be chosen before listening.
  const port = publicHost === setup.host ? 0 : await freePort(setup.host);
  const cloud = await startMockCloud({
    host: setup.host,
    port,
    logger: setup.logs.logger('mock-cloud'),
    ...(port ? { publicUrl: `http://${urlHost(publicHost)}:${port}` } : {}),
    ...(setup.edgeTokenTtlSeconds ? { edgeTokenTtlSeconds: setup.edgeTokenTtlSeconds } : {}),
    ...(setup.releaseKeys ? { releaseKeys: setup.releaseKeys } : {}),
  });
  const url = port ? `http://${urlHost(publicHost)}:${port}` : cloud.url;
  try {
    const admin = new MockCloudClient(cloud.url);
    admin.setControlToken(cloud.controlToken);
    const login = await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
    return {
      url,
      orgId: setup.orgId ?? DEMO_ORG_ID,
      admin,
      adminToken: login.accessToken,
      own: true,
      close: () => cloud.close(),
    };
  } catch (error) {
    await cloud.close();
    throw error;
  }
}
