/**
 * A table of malformed requests over real HTTP. Each gets the right status and contract error body, and the
 * database is byte-for-byte the same before and after (a snapshot of every table), and the server stays up.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT, generateKeyPair, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudServer, type RunningCloud } from '../../../src/mock/cloud/server.js';
import { DEMO_ORG_ID, DEMO_PASSWORD, DEMO_USERS } from '../../../src/mock/cloud/seed.js';
import { MAX_REQUEST_BYTES } from '../../../src/protocol/index.js';
import { demoSite, deviceKey, edgeBody } from './fixtures.js';

let running: RunningCloud;
let token: string;
let siteId: string;
let cloudKey: Awaited<ReturnType<typeof importJWK>>;
const org = `/api/organisations/${DEMO_ORG_ID}`;

function snapshot(): Record<string, unknown[]> {
  const { db } = running.cloud;
  const tables = db
    .prepare<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all();
  return Object.fromEntries(
    tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all()]),
  );
}

/** A token signed with the cloud's own key but wrong in one claim: only the claim check can refuse it. */
async function cloudSigned(claims: { aud?: string; iat: number; exp: number }): Promise<string> {
  const { kid } = running.cloud.db.prepare<{ kid: string }>('SELECT kid FROM signing_keys').get()!;
  return new SignJWT({
    sub: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d01',
    email: DEMO_USERS.owner,
    org: null,
    org_slug: null,
    org_role: null,
    orgs: [],
    platform_admin: false,
  })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(running.url)
    .setAudience(claims.aud ?? 'consystence-api')
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(cloudKey);
}

beforeAll(async () => {
  running = await startCloudServer();
  const login = await fetch(`${running.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: DEMO_USERS.owner, password: DEMO_PASSWORD }),
  });
  token = ((await login.json()) as { accessToken: string }).accessToken;
  const site = await fetch(`${running.url}${org}/sites`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(demoSite('bad-input')),
  });
  siteId = ((await site.json()) as { id: string }).id;
  const { private_jwk } = running.cloud.db
    .prepare<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys')
    .get()!;
  cloudKey = await importJWK(JSON.parse(private_jwk) as JWK, 'ES256');
});
afterAll(async () => {
  await running?.close();
});

interface Case {
  name: string;
  method?: string;
  path: string | (() => string);
  body?: unknown;
  raw?: RequestInit['body'];
  headers?: Record<string, string>;
  /** The bearer: the owner's token by default, null for none, or a function making a bad one. */
  bearer?: string | null | (() => Promise<string>);
  status: number;
  code: string;
  field?: string;
}

const now = () => Math.floor(Date.now() / 1000);
const big = 'x'.repeat(MAX_REQUEST_BYTES + 1024);
const sitePath = () => `${org}/sites/${siteId}`;

const cases: Case[] = [
  {
    name: 'not JSON',
    method: 'POST',
    path: `${org}/sites`,
    raw: '{"name": "Mt',
    status: 400,
    code: 'VALIDATION_ERROR',
    field: '(body)',
  },
  { name: 'a JSON array', method: 'POST', path: `${org}/sites`, raw: '[1,2]', status: 400, code: 'VALIDATION_ERROR' },
  {
    name: 'wrong type',
    method: 'POST',
    path: `${org}/sites`,
    body: { ...demoSite(), name: 42 },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'name',
  },
  {
    name: 'an unknown field',
    method: 'POST',
    path: `${org}/sites`,
    body: { ...demoSite(), colour: 'red' },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: '(body)',
  },
  {
    name: 'a huge body by Content-Length',
    method: 'POST',
    path: `${org}/sites`,
    raw: JSON.stringify({ ...demoSite(), name: big }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'a huge streamed body (no Content-Length)',
    method: 'POST',
    path: `${org}/sites`,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    raw: new ReadableStream({
      start(c) {
        for (let i = 0; i < 40; i++) c.enqueue(new TextEncoder().encode('x'.repeat(4096)));
        c.close();
      },
    }),
  },
  {
    name: 'a bad UUID in the path',
    method: 'GET',
    path: '/api/organisations/not-a-uuid/sites',
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'orgId',
  },
  {
    name: 'a bad site UUID in the path',
    method: 'GET',
    path: `${org}/sites/1234`,
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'siteId',
  },
  {
    name: 'an unknown organisation',
    method: 'GET',
    path: `/api/organisations/${randomUUID()}/sites`,
    status: 404,
    code: 'NOT_FOUND',
  },
  { name: 'an unknown site', method: 'GET', path: `${org}/sites/${randomUUID()}`, status: 404, code: 'NOT_FOUND' },
  {
    name: 'a bad edge id in the path',
    method: 'DELETE',
    path: () => `${sitePath()}/edges/Not_Valid`,
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'edgeId',
  },
  {
    name: 'an upper-case slug',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite('Mt_Arthur'),
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'slug',
  },
  {
    name: 'a slug ending in a dash',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite('mt-'),
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'slug',
  },
  {
    name: 'a taken slug',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite('bad-input'),
    status: 409,
    code: 'SLUG_TAKEN',
    field: 'slug',
  },
  {
    name: 'an unknown time zone',
    method: 'POST',
    path: `${org}/sites`,
    body: { ...demoSite(), timezone: 'Mars/Olympus_Mons' },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'timezone',
  },
  {
    name: 'latitude 91',
    method: 'POST',
    path: `${org}/sites`,
    body: { ...demoSite(), location: { latitude: 91, longitude: 0 } },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'location.latitude',
  },
  {
    name: 'longitude -181',
    method: 'PUT',
    path: sitePath,
    body: { location: { latitude: 0, longitude: -181 } },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'location.longitude',
  },
  {
    name: 'a slug change on update',
    method: 'PUT',
    path: sitePath,
    body: { slug: 'other' },
    status: 400,
    code: 'VALIDATION_ERROR',
  },
  { name: 'an empty update', method: 'PUT', path: sitePath, body: {}, status: 400, code: 'VALIDATION_ERROR' },
  {
    name: 'a pairing code TTL below 60 s',
    method: 'POST',
    path: () => `${sitePath()}/pairing-codes`,
    body: { ttlSeconds: 10 },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'ttlSeconds',
  },
  {
    name: 'an ftp endpoint for the site server',
    method: 'POST',
    path: () => `${sitePath()}/register-server`,
    body: { hardwareId: 'h', version: '1.0.0', hostname: 'srv', endpoints: { api: 'ftp://x', mqtt: 'mqtt://x:1883' } },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'endpoints.api',
  },
  {
    name: 'no Idempotency-Key',
    method: 'POST',
    path: () => `${sitePath()}/register-edge`,
    body: { edgeId: 'e' },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'Idempotency-Key',
  },
  {
    name: 'a private key in publicKey',
    method: 'POST',
    path: () => `${sitePath()}/register-edge`,
    headers: { 'Idempotency-Key': randomUUID() },
    body: 'private-key',
    status: 400,
    code: 'VALIDATION_ERROR',
  },
  {
    name: 'a wrong login',
    method: 'POST',
    path: '/api/auth/login',
    body: { email: DEMO_USERS.owner, password: 'wrong' },
    bearer: null,
    status: 401,
    code: 'INVALID_CREDENTIALS',
  },
  {
    name: 'no token',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite(),
    bearer: null,
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'a garbage token',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite(),
    bearer: async () => 'abc.def.ghi',
    status: 401,
    code: 'INVALID_TOKEN',
  },
  {
    name: 'an alg:none token',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite(),
    status: 401,
    code: 'INVALID_TOKEN',
    bearer: async () =>
      new UnsecuredJWT({ sub: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d01' })
        .setIssuer(running.url)
        .setAudience('consystence-api')
        .setIssuedAt()
        .setExpirationTime('1h')
        .encode(),
  },
  {
    name: 'a token signed by a foreign key',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite(),
    status: 401,
    code: 'INVALID_TOKEN',
    bearer: async () =>
      new SignJWT({ sub: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d01' })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(running.url)
        .setAudience('consystence-api')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign((await generateKeyPair('ES256')).privateKey),
  },
  {
    name: 'a token for the wrong audience',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite(),
    status: 401,
    code: 'INVALID_TOKEN',
    bearer: () => cloudSigned({ aud: 'consystence-cloud', iat: now(), exp: now() + 600 }),
  },
  {
    name: 'an expired token',
    method: 'POST',
    path: `${org}/sites`,
    body: demoSite(),
    status: 401,
    code: 'TOKEN_EXPIRED',
    bearer: () => cloudSigned({ iat: now() - 7200, exp: now() - 3600 }),
  },
  {
    name: 'a garbage refresh assertion',
    method: 'POST',
    path: () => `${sitePath()}/edges/orin-01/token`,
    bearer: async () => 'not-a-jwt',
    status: 401,
    code: 'INVALID_TOKEN',
  },
  { name: 'an unknown route', method: 'GET', path: '/api/nothing-here', status: 404, code: 'NOT_FOUND' },
  {
    name: 'a licence key the organisation does not hold',
    method: 'POST',
    path: () => `${sitePath()}/register-edge`,
    headers: { 'Idempotency-Key': '5b0c7d1e-2f3a-4b5c-8d6e-7f8091a2b3c4' },
    body: 'unknown-licence',
    status: 403,
    code: 'LICENCE_INVALID',
    field: 'licenceKey',
  },
  {
    name: 'a signing key without a kid',
    method: 'POST',
    path: () => `${sitePath()}/register-server`,
    body: 'signing-key-without-kid',
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'signingKey',
  },
  {
    name: 'a malformed licence key to export',
    method: 'POST',
    path: () => `${sitePath()}/offline-licence`,
    body: { licenceKeys: ['CST-EDGE-1'] },
    status: 400,
    code: 'VALIDATION_ERROR',
    field: 'licenceKeys.0',
  },
  {
    name: 'an unknown field in an offline licence request',
    method: 'POST',
    path: () => `${sitePath()}/offline-licence`,
    body: { licences: 'all' },
    status: 400,
    code: 'VALIDATION_ERROR',
  },
  {
    name: "a binding report with a user's access token",
    method: 'POST',
    path: () => `${sitePath()}/site-server/licence-bindings`,
    body: { bindings: [] },
    status: 401,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'a binding report with a garbage bearer',
    method: 'POST',
    path: () => `${sitePath()}/site-server/licence-bindings`,
    body: { bindings: [] },
    bearer: async () => 'not-a-jwt',
    status: 401,
    code: 'UNAUTHENTICATED',
  },
];

describe('malformed requests', () => {
  it.each(cases)('$name → $status $code, state unchanged', async (c) => {
    let body = c.raw;
    if (c.body === 'private-key') {
      const key = await deviceKey();
      body = JSON.stringify(edgeBody(key, { publicKey: { ...key.publicJwk, d: 'AAAA' } as never }));
    } else if (c.body === 'unknown-licence') {
      body = JSON.stringify(edgeBody(await deviceKey(), { licenceKey: 'CST-EDGE-ZZZZ-ZZZZ-ZZZZ' }));
    } else if (c.body === 'signing-key-without-kid') {
      const signingKey = { ...(await deviceKey()).publicJwk, kid: undefined };
      body = JSON.stringify({ hardwareId: 'hw', version: '1.0.0', hostname: 'server.local', signingKey });
    } else if (c.body !== undefined) {
      body = JSON.stringify(c.body);
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', ...c.headers };
    const bearer = c.bearer === undefined ? token : typeof c.bearer === 'function' ? await c.bearer() : c.bearer;
    if (bearer) headers.authorization = `Bearer ${bearer}`;

    const before = snapshot();
    const path = typeof c.path === 'function' ? c.path() : c.path;
    const res = await fetch(running.url + path, {
      method: c.method ?? 'GET',
      headers,
      ...(body !== undefined ? { body, duplex: 'half' } : {}),
    } as RequestInit);
    const json = (await res.json()) as { error: { code: string; details?: Array<{ field: string }> } };
    expect(res.status, JSON.stringify(json)).toBe(c.status);
    expect(json.error.code).toBe(c.code);
    expect(res.headers.get('date')).toBeTruthy();
    if (c.field) expect(json.error.details?.map((d) => d.field)).toContain(c.field);
    expect(snapshot()).toEqual(before);
  });

  it('the server is still up and answering after all of them', async () => {
    expect((await fetch(`${running.url}/_mock/health`)).status).toBe(200);
  });
});
