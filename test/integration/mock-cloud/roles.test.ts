/**
 * The role matrix: every route, called by every role (plus a non-member and no token at all), in process.
 * A role at or above the route's minimum succeeds; below it is 403; a non-member is 403; no token is 401.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ORG_ID, DEMO_USERS } from '../../../src/mock/cloud/seed.js';
import { Roles, type Role } from '../../../src/protocol/index.js';
import { testHardwareId } from '../../helpers/tmp.js';
import { demoSite, deviceKey, edgeBody } from './fixtures.js';
import { InProcessCloud, OUTSIDER, type Call } from './in-process.js';
import { siteSigningKey } from './licence-fixtures.js';

let cloud: InProcessCloud;
let ownerToken: string;
const tokens = new Map<string, string>();
const org = `/api/organisations/${DEMO_ORG_ID}`;

async function freshSite(): Promise<string> {
  return (await cloud.ok({ method: 'POST', path: `${org}/sites`, bearer: ownerToken, body: demoSite() })).id;
}
async function freshEdge(siteId: string): Promise<string> {
  const edgeId = `edge-${randomUUID().slice(0, 8)}`;
  await cloud.ok({
    method: 'POST',
    path: `${org}/sites/${siteId}/register-edge`,
    bearer: ownerToken,
    headers: { 'Idempotency-Key': randomUUID() },
    body: edgeBody(await deviceKey(), { edgeId }),
  });
  return edgeId;
}

/** A fresh site whose server registered a signing key, so an offline licence can be exported for it. */
async function siteWithSigningKey(): Promise<string> {
  const siteId = await freshSite();
  await cloud.ok({
    method: 'POST',
    path: `${org}/sites/${siteId}/register-server`,
    bearer: ownerToken,
    body: {
      hardwareId: 'hw',
      version: '1.0.0',
      hostname: 'server.local',
      signingKey: (await siteSigningKey()).publicJwk,
    },
  });
  return siteId;
}

/** Each route with its minimum role and a builder that makes a fresh, valid call (so success is possible). */
const routes: Array<{ name: string; minimum: Role; build: () => Promise<Call> }> = [
  {
    name: 'POST /api/organisations',
    minimum: 'viewer',
    build: async () => ({
      method: 'POST',
      path: '/api/organisations',
      body: { name: 'X', slug: `x-${randomUUID().slice(0, 8)}` },
    }),
  },
  { name: 'GET /api/organisations/{orgId}', minimum: 'viewer', build: async () => ({ method: 'GET', path: org }) },
  {
    name: 'POST sites',
    minimum: 'admin',
    build: async () => ({ method: 'POST', path: `${org}/sites`, body: demoSite() }),
  },
  { name: 'GET sites', minimum: 'viewer', build: async () => ({ method: 'GET', path: `${org}/sites` }) },
  {
    name: 'GET site',
    minimum: 'viewer',
    build: async () => ({ method: 'GET', path: `${org}/sites/${await freshSite()}` }),
  },
  {
    name: 'PUT site',
    minimum: 'admin',
    build: async () => ({ method: 'PUT', path: `${org}/sites/${await freshSite()}`, body: { name: 'Renamed' } }),
  },
  {
    name: 'DELETE site',
    minimum: 'owner',
    build: async () => ({ method: 'DELETE', path: `${org}/sites/${await freshSite()}` }),
  },
  {
    name: 'POST register-server',
    minimum: 'admin',
    build: async () => ({
      method: 'POST',
      path: `${org}/sites/${await freshSite()}/register-server`,
      body: { hardwareId: 'hw', version: '1.0.0', hostname: 'server.local' },
    }),
  },
  {
    name: 'POST pairing-codes',
    minimum: 'engineer',
    build: async () => ({ method: 'POST', path: `${org}/sites/${await freshSite()}/pairing-codes`, body: {} }),
  },
  {
    name: 'POST register-edge',
    minimum: 'engineer',
    build: async () => ({
      method: 'POST',
      path: `${org}/sites/${await freshSite()}/register-edge`,
      headers: { 'Idempotency-Key': randomUUID() },
      body: edgeBody(await deviceKey(), { hardwareId: testHardwareId() }),
    }),
  },
  {
    name: 'GET edges',
    minimum: 'viewer',
    build: async () => ({ method: 'GET', path: `${org}/sites/${await freshSite()}/edges` }),
  },
  {
    name: 'DELETE edge',
    minimum: 'admin',
    build: async () => {
      const siteId = await freshSite();
      return { method: 'DELETE', path: `${org}/sites/${siteId}/edges/${await freshEdge(siteId)}` };
    },
  },
  { name: 'GET licences', minimum: 'admin', build: async () => ({ method: 'GET', path: `${org}/licences` }) },
  {
    name: 'POST offline-licence',
    minimum: 'admin',
    build: async () => ({
      method: 'POST',
      path: `${org}/sites/${await siteWithSigningKey()}/offline-licence`,
      body: {},
    }),
  },
];

beforeAll(async () => {
  cloud = await InProcessCloud.start();
  for (const role of Roles) tokens.set(role, await cloud.token(DEMO_USERS[role]));
  tokens.set('outsider', await cloud.token(OUTSIDER));
  ownerToken = tokens.get('owner')!;
});
afterAll(() => cloud?.close());

describe.each(routes)('$name (minimum $minimum)', ({ minimum, build }) => {
  it.each(Roles.map((role) => ({ role })))('as $role', async ({ role }) => {
    const res = await cloud.call({ ...(await build()), bearer: tokens.get(role)! });
    const allowed = Roles.indexOf(role) <= Roles.indexOf(minimum);
    if (allowed) expect(res.status, JSON.stringify(res.json)).toBeLessThan(300);
    else expect([res.status, res.json.error.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('as a user of another organisation', async () => {
    const call = await build();
    const res = await cloud.call({ ...call, bearer: tokens.get('outsider')! });
    // Creating an organisation needs no membership; everything else inside one does.
    if (call.path === '/api/organisations') expect(res.status).toBe(201);
    else expect([res.status, res.json.error.code]).toEqual([403, 'FORBIDDEN']);
  });

  it('without a token', async () => {
    const res = await cloud.call(await build());
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('UNAUTHENTICATED');
    expect(res.headers.get('Date')).toBeTruthy();
  });
});

describe('the platform admin', () => {
  it('acts as owner in every organisation', async () => {
    const token = await cloud.token('platform@demo.test');
    const res = await cloud.call({ method: 'DELETE', path: `${org}/sites/${await freshSite()}`, bearer: token });
    expect(res.status).toBe(204);
  });
});
