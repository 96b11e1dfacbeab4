/**
 * The rig's faults over real HTTP: the lost response (drop after commit) and its idempotent retry, injected
 * statuses with Retry-After, spoiled bodies, latency, the clock offset, and the arm/list/reset cycle.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  MockCloudError,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import { demoSite, deviceKey, edgeBody } from './fixtures.js';

const REGISTER_EDGE = 'POST /api/organisations/*/sites/*/register-edge';
let cloud: { url: string; controlToken: string; close(): Promise<void> };
let admin: MockCloudClient;
let siteId: string;

beforeAll(async () => {
  cloud = await startMockCloud();
  admin = new MockCloudClient(cloud.url);
  admin.setControlToken(cloud.controlToken);
  await admin.login(DEMO_USERS.owner, DEMO_PASSWORD);
  siteId = (await admin.createSite(DEMO_ORG_ID, demoSite())).id;
});
beforeEach(async () => {
  await admin.faults.reset();
});
afterAll(async () => {
  await cloud?.close();
});

describe('drop after commit (the lost response)', () => {
  it('commits the registration; a retry with the same Idempotency-Key gets the same 201 and the code is not refused as used', async () => {
    const device = new MockCloudClient(cloud.url);
    const { code } = await admin.createPairingCode(DEMO_ORG_ID, siteId);
    const body = edgeBody(await deviceKey(), { edgeId: 'lost-01' });
    const idempotencyKey = randomUUID();
    await admin.faults.set({ type: 'drop-after-commit', route: REGISTER_EDGE });

    const lost = await device.registerEdge(DEMO_ORG_ID, siteId, body, { idempotencyKey, pairingCode: code }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(lost).toBeInstanceOf(Error);
    expect(lost).not.toBeInstanceOf(MockCloudError); // no HTTP answer at all
    // The work was committed although nobody heard about it.
    const committed = (await admin.listEdges(DEMO_ORG_ID, siteId)).find((e) => e.edgeId === 'lost-01');
    expect(committed?.status).toBe('active');

    const retried = await device.registerEdge(DEMO_ORG_ID, siteId, body, { idempotencyKey, pairingCode: code });
    expect(retried.id).toBe(committed!.id);
    expect(decodeJwt(retried.edgeToken).sub).toBe(committed!.id);
    expect(await admin.faults.get()).toMatchObject({ pending: [] });
  });
});

describe('injected statuses and spoiled bodies', () => {
  it('answers the next N calls with the chosen status, Retry-After and the contract error body, without doing the work', async () => {
    await admin.faults.set({
      type: 'status',
      route: 'POST /api/organisations/*/sites',
      status: 503,
      times: 2,
      retryAfterSeconds: 7,
    });
    for (let i = 0; i < 2; i++) {
      const error = (await admin
        .createSite(DEMO_ORG_ID, demoSite('never-made'))
        .catch((e: unknown) => e)) as MockCloudError;
      expect([error.status, error.code, error.retryAfterSeconds]).toEqual([503, 'UNAVAILABLE', 7]);
    }
    expect((await admin.listSites(DEMO_ORG_ID)).some((s) => s.slug === 'never-made')).toBe(false);
    await admin.createSite(DEMO_ORG_ID, demoSite('now-made'));
  });

  it('serves a body that is not JSON, or half of one, after doing the work', async () => {
    for (const type of ['malformed-body', 'truncated-body'] as const) {
      await admin.faults.set({ type, route: 'POST /api/organisations/*/sites/*/pairing-codes' });
      const error = (await admin.createPairingCode(DEMO_ORG_ID, siteId).catch((e: unknown) => e)) as MockCloudError;
      expect([error.status, error.code]).toEqual([201, 'BAD_RESPONSE']);
    }
    await admin.createPairingCode(DEMO_ORG_ID, siteId);
  });

  it('adds latency to a route, shows what is armed, and resets everything', async () => {
    await admin.faults.set({ type: 'latency', ms: 300, route: 'GET /_mock/health' });
    await admin.faults.set({ type: 'latency', ms: 200, route: 'GET /.well-known/jwks.json' });
    const armed = await admin.faults.get();
    expect(armed.latency).toHaveLength(2);
    const started = Date.now();
    await admin.jwks();
    // A lower bound only: latency adds at least what was asked.
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect((await admin.faults.reset()).latency).toEqual([]);
  });

  it('refuses a malformed fault with details', async () => {
    const error = (await admin.faults
      .set({ type: 'status', route: 'no method', status: 503 })
      .catch((e: unknown) => e)) as MockCloudError;
    expect([error.status, error.code, error.details[0]?.field]).toEqual([400, 'VALIDATION_ERROR', 'route']);
  });
});

describe('clock offset', () => {
  // Less than the access token's hour: a larger shift expires the caller's own token, as it should.
  it('moves the Date header, serverTime and token times', async () => {
    await admin.setClock(1800);
    const health = await admin.health();
    expect(Date.parse(health.serverTime) - Date.now()).toBeGreaterThan(1700_000);
    const res = await fetch(`${cloud.url}/_mock/health`);
    expect(Date.parse(res.headers.get('date')!) - Date.now()).toBeGreaterThan(1700_000);
    const edge = await admin.registerEdge(DEMO_ORG_ID, siteId, edgeBody(await deviceKey(), { edgeId: 'clock-01' }), {
      idempotencyKey: randomUUID(),
    });
    expect(Date.parse(edge.serverTime) - Date.now()).toBeGreaterThan(1700_000);
    expect(decodeJwt(edge.edgeToken).iat! * 1000 - Date.now()).toBeGreaterThan(1700_000);
    expect((await admin.faults.get()).clockOffsetSeconds).toBe(1800);
    await admin.faults.reset();
    expect((await admin.faults.get()).clockOffsetSeconds).toBe(0);
  });
});

describe('the /_mock/ control routes', () => {
  it('need the control token (an admin access token is not enough); /_mock/health stays open', async () => {
    const stranger = new MockCloudClient(cloud.url);
    await stranger.login(DEMO_USERS.owner, DEMO_PASSWORD);
    for (const attempt of [
      () => stranger.faults.set({ type: 'status', route: REGISTER_EDGE, status: 503 }),
      () => stranger.faults.reset(),
      () => stranger.setClock(100_000),
    ]) {
      const error = (await attempt().catch((e: unknown) => e)) as MockCloudError;
      expect([error.status, error.code]).toEqual([401, 'UNAUTHENTICATED']);
    }
    const wrong = await fetch(`${cloud.url}/_mock/faults`, {
      headers: { authorization: `Bearer ${cloud.controlToken}x` },
    });
    expect(wrong.status).toBe(401);
    expect(await admin.faults.get()).toMatchObject({ pending: [], clockOffsetSeconds: 0 });
    expect((await stranger.health()).ok).toBe(true);
  });
});
