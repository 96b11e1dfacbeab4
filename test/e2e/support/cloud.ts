/** Starts the mock cloud as a real process and prepares a site whose site server is the test broker. */
import { startEntry, type Child } from '../../helpers/process.js';
import { DEMO_ORG_ID, DEMO_PASSWORD, DEMO_USERS, MockCloudClient } from '../../../src/mock/cloud/index.js';

export interface CloudProcess {
  child: Child;
  url: string;
  admin: MockCloudClient;
}

export async function startCloudProcess(args: string[] = []): Promise<CloudProcess> {
  const child = startEntry('node', 'src/mock/cloud/main.ts', ['--port', '0', ...args]);
  const line = await child.waitForLine((l) => l.event === 'listening', 30_000);
  const url = String(line.url);
  const admin = new MockCloudClient(url);
  admin.setControlToken(String(line.controlToken));
  await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
  return { child, url, admin };
}

export async function createSite(admin: MockCloudClient, label: string): Promise<string> {
  const slug = `${label}-${Math.random().toString(36).slice(2, 8)}`;
  const site = await admin.createSite(DEMO_ORG_ID, { name: `Site ${slug}`, slug, timezone: 'Australia/Perth' });
  return site.id;
}

/** Points the site's edges at the test broker (register-server endpoints, CONTRACT §2). */
export async function pointSiteAt(admin: MockCloudClient, siteId: string, brokerUrl: string): Promise<void> {
  await admin.registerServer(DEMO_ORG_ID, siteId, {
    hardwareId: 'test-site-server',
    version: '0.0.1',
    hostname: 'site-server',
    endpoints: { api: 'http://127.0.0.1:5000', mqtt: brokerUrl },
  });
}

export { DEMO_ORG_ID };
