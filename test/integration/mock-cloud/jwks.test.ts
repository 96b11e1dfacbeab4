/** A token the mock issues verifies with nothing but its published JWKS and jose, like any third party would. */
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import { demoSite, deviceKey, edgeBody } from './fixtures.js';

let cloud: { url: string; close(): Promise<void> };
beforeAll(async () => {
  cloud = await startMockCloud();
});
afterAll(async () => {
  await cloud?.close();
});

it('publishes only public keys, with kid and alg', async () => {
  const jwks = (await (await fetch(`${cloud.url}/.well-known/jwks.json`)).json()) as {
    keys: Array<Record<string, unknown>>;
  };
  expect(jwks.keys).toHaveLength(1);
  expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: expect.any(String) });
  expect(jwks.keys[0]).not.toHaveProperty('d');
});

it('access, site and edge tokens verify against the remote JWKS', async () => {
  const client = new MockCloudClient(cloud.url);
  const { accessToken } = await client.login(DEMO_USERS.admin, DEMO_PASSWORD);
  const site = await client.createSite(DEMO_ORG_ID, demoSite());
  const { siteToken } = await client.registerServer(DEMO_ORG_ID, site.id, {
    hardwareId: 'hw',
    version: '1.0.0',
    hostname: 'srv.local',
  });
  const edge = await client.registerEdge(DEMO_ORG_ID, site.id, edgeBody(await deviceKey()), {
    idempotencyKey: randomUUID(),
  });

  const jwks = createRemoteJWKSet(new URL(`${cloud.url}/.well-known/jwks.json`));
  const options = { issuer: cloud.url, algorithms: ['ES256'] };
  expect((await jwtVerify(accessToken, jwks, { ...options, audience: 'consystence-api' })).payload).toMatchObject({
    email: DEMO_USERS.admin,
    org: DEMO_ORG_ID,
    org_role: 'admin',
  });
  expect((await jwtVerify(siteToken, jwks, { ...options, audience: 'consystence-cloud' })).payload).toMatchObject({
    sub: site.id,
    typ: 'site',
  });
  expect(
    (await jwtVerify(edge.edgeToken, jwks, { ...options, audience: `consystence-site:${site.id}` })).payload,
  ).toMatchObject({ sub: edge.id, cnf: { jkt: expect.any(String) } });
});
