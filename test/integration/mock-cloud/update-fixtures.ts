/** A site with a registered site server (its site token) and some paired edges, in an in-process cloud. */
import { randomUUID } from 'node:crypto';
import { DEMO_ORG_ID } from '../../../src/mock/cloud/seed.js';
import { demoSite, deviceKey, edgeBody } from './fixtures.js';
import type { InProcessCloud } from './in-process.js';

export const ORG_PATH = `/api/organisations/${DEMO_ORG_ID}`;

export interface TestSite {
  siteId: string;
  siteToken: string;
  edgeIds: string[];
  path: string;
}

export async function siteWithEdges(cloud: InProcessCloud, ownerToken: string, edgeCount = 2): Promise<TestSite> {
  const siteId = (await cloud.ok({ method: 'POST', path: `${ORG_PATH}/sites`, bearer: ownerToken, body: demoSite() }))
    .id as string;
  const path = `${ORG_PATH}/sites/${siteId}`;
  const { siteToken } = await cloud.ok({
    method: 'POST',
    path: `${path}/register-server`,
    bearer: ownerToken,
    body: { hardwareId: `hw-${randomUUID()}`, version: '1.0.0', hostname: 'server.local' },
  });
  const edgeIds: string[] = [];
  for (let i = 0; i < edgeCount; i++) {
    const edgeId = `edge-${randomUUID().slice(0, 8)}`;
    await cloud.ok({
      method: 'POST',
      path: `${path}/register-edge`,
      bearer: ownerToken,
      headers: { 'Idempotency-Key': randomUUID() },
      body: edgeBody(await deviceKey(), { edgeId, hostname: edgeId }),
    });
    edgeIds.push(edgeId);
  }
  return { siteId, siteToken, edgeIds, path };
}

/** Uploads a bundle as the platform admin and returns the release view. */
export async function upload(cloud: InProcessCloud, platformToken: string, bytes: Uint8Array) {
  return cloud.call({
    method: 'POST',
    path: '/api/releases',
    bearer: platformToken,
    rawBody: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
}
