/**
 * The site server's edge-facing HTTPS API, connected (issue 15): a real mock cloud and a real site server on
 * loopback. `register` is relayed to the cloud's register-edge with the site token and answered with the cloud's
 * key set; the cloud's refusals come back unchanged; a replay answers the same even once the cloud is gone; the
 * listener's fingerprint is the one on the socket, on `/health` and at `identity`, and survives a restart.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEMO_LICENCE_KEYS } from '../../../src/mock/cloud/index.js';
import { SITE_EDGE_ROUTES, SiteRegisterResponse, siteEdgeUrl, verifyEdgeToken } from '../../../src/protocol/index.js';
import { freePort } from '../../helpers/mosquitto.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { deviceKey, edgeBody } from '../mock-cloud/fixtures.js';
import { edgeCall, registerAt } from './helpers/edge-https.js';
import { api, startCloudSite, startSiteServer } from './helpers/site.js';

describe('site server edge API, connected', () => {
  it('relays register to the cloud and answers with the cloud token and key set; a replay answers the same', async () => {
    const site = await startCloudSite();
    const server = await startSiteServer(site);
    expect(server.edgeUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const identity = await edgeCall(siteEdgeUrl(server.edgeUrl, SITE_EDGE_ROUTES.identity));
    expect(identity.status).toBe(200);
    expect(identity.body).toEqual({
      fingerprint: server.fingerprint,
      siteId: site.siteId,
      orgId: site.orgId,
      mode: 'connected',
    });
    expect(identity.peerFingerprint).toBe(server.fingerprint);
    // The edges' support-bundle upload is served here too (edge token); the control API is not.
    const upload = `${server.edgeUrl}/uploads/support-bundles/${'0'.repeat(32)}`;
    expect((await edgeCall(upload, { method: 'PUT' })).body.error.code).toBe('INVALID_TOKEN');
    expect((await edgeCall(`${server.edgeUrl}/edges`)).status).toBe(404);
    const health = await api(server.httpUrl, 'GET', '/health');
    expect(health.body).toMatchObject({ fingerprint: server.fingerprint, edgeUrl: server.edgeUrl });

    const key = await deviceKey();
    const body = { ...edgeBody(key, { edgeId: 'orin-north-01' }), licenceKey: DEMO_LICENCE_KEYS[0]! };
    const idempotencyKey = randomUUID();
    const first = await registerAt(server.edgeUrl, body, idempotencyKey);
    expect(first.status).toBe(201);
    const answer = SiteRegisterResponse.parse(first.body);
    expect(answer.issuer).toBe('cloud');
    expect(answer.licence).toBeUndefined();
    // The device verifies the token against the key set the site server relayed.
    const claims = await verifyEdgeToken(answer.edgeToken, answer.jwks as JSONWebKeySet, site.siteId);
    expect(claims).toMatchObject({ edge: 'orin-north-01', hw: body.hardwareId, sub: answer.id });
    // The edge is told to come back to this listener (register-server sent it as endpoints.api).
    expect(answer.config.siteServer.url).toBe(server.edgeUrl);
    const licences = await site.admin.listLicences(site.orgId);
    expect(licences.licences.find((l) => l.key === DEMO_LICENCE_KEYS[0])?.binding).toMatchObject({
      hardwareId: body.hardwareId,
      via: 'cloud',
    });

    await site.stopCloud();
    const replay = await registerAt(server.edgeUrl, body, idempotencyKey);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    const mismatch = await registerAt(server.edgeUrl, { ...body, hostname: 'other' }, idempotencyKey);
    expect(mismatch.status).toBe(409);
    expect(mismatch.body.error.code).toBe('IDEMPOTENCY_MISMATCH');
  });

  it("relays the cloud's refusals unchanged; without the cloud and a licence file it says what to do", async () => {
    const site = await startCloudSite();
    const server = await startSiteServer(site);
    const key = await deviceKey();
    const body = { ...edgeBody(key, { edgeId: 'orin-refused' }), licenceKey: 'CST-EDGE-ZZZZ-ZZZZ-ZZZZ' };

    const unknown = await registerAt(server.edgeUrl, body);
    expect(unknown.status).toBe(403);
    expect(unknown.body.error.code).toBe('LICENCE_INVALID');

    expect((await registerAt(server.edgeUrl, { ...body, licenceKey: DEMO_LICENCE_KEYS[1]! })).status).toBe(201);
    const other = await registerAt(server.edgeUrl, {
      ...body,
      edgeId: 'orin-other',
      hardwareId: testHardwareId('other'),
      licenceKey: DEMO_LICENCE_KEYS[1]!,
    });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('LICENCE_BOUND');

    const noKey = await edgeCall(siteEdgeUrl(server.edgeUrl, SITE_EDGE_ROUTES.register), { method: 'POST', body });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.details[0].field).toBe('Idempotency-Key');
    const tooBig = await registerAt(server.edgeUrl, { ...body, hostname: 'x'.repeat(70_000) });
    expect(tooBig.status).toBe(413);

    await site.stopCloud();
    const unreachable = await registerAt(server.edgeUrl, { ...body, licenceKey: DEMO_LICENCE_KEYS[2]! });
    expect(unreachable.status).toBe(503);
    expect(unreachable.body.error.code).toBe('CLOUD_UNREACHABLE');
    expect(unreachable.body.error.message).toMatch(/--licence-file/);
  });

  it('a lost cloud answer is 504 REGISTRATION_OUTCOME_UNKNOWN, never decided with the licence file; the replay answers', async () => {
    const dir = tempDir('cst-site-lost-');
    const site = await startCloudSite();
    const db = join(dir, 'site.db');
    // Registered with the cloud once, then started again (same ports) with a licence file naming the key.
    const ports = { db, mqttPort: await freePort(), edgePort: await freePort() };
    const first = await startSiteServer(site, { ...ports, code: await site.serverCode() });
    const { licenceFile } = await site.admin.exportOfflineLicence(site.orgId, site.siteId, {
      licenceKeys: [DEMO_LICENCE_KEYS[3]!],
    });
    await first.close();
    const licencePath = join(dir, 'site.licence');
    writeFileSync(licencePath, licenceFile, { mode: 0o600 });
    const server = await startSiteServer(site, { ...ports, licenceFile: licencePath });
    const body = { ...edgeBody(await deviceKey(), { edgeId: 'orin-lost' }), licenceKey: DEMO_LICENCE_KEYS[3]! };
    const idempotencyKey = randomUUID();

    await site.admin.faults.set({
      type: 'drop-after-commit',
      route: 'POST /api/organisations/*/sites/*/register-edge',
      times: 1,
    });
    const lost = await registerAt(server.edgeUrl, body, idempotencyKey);
    expect(lost.status).toBe(504);
    expect(lost.body.error.code).toBe('REGISTRATION_OUTCOME_UNKNOWN');
    expect(lost.headers['retry-after']).toBe('5');
    expect(lost.body.error.message).toMatch(/may already be bound/);

    // The retry is relayed to the cloud again, whose replay tells what it did: a cloud token, not a site one.
    const replay = await registerAt(server.edgeUrl, body, idempotencyKey);
    expect(replay.status).toBe(201);
    expect(replay.body.issuer).toBe('cloud');
    const { licences } = await site.admin.listLicences(site.orgId);
    expect(licences.find((l) => l.key === DEMO_LICENCE_KEYS[3])?.binding).toMatchObject({ edgeId: 'orin-lost' });
  });

  it('keeps its fingerprint and signing key across restarts with the same --db', async () => {
    const site = await startCloudSite();
    const db = join(tempDir('cst-site-edge-'), 'site.db');
    const hardwareId = testHardwareId('restarted-site-server');
    const first = await startSiteServer(site, { db, hardwareId, code: await site.serverCode() });
    const fingerprint = first.fingerprint;
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    await first.close();
    const second = await startSiteServer(site, { db, hardwareId });
    expect(second.fingerprint).toBe(fingerprint);
    expect((await edgeCall(siteEdgeUrl(second.edgeUrl, SITE_EDGE_ROUTES.identity))).peerFingerprint).toBe(fingerprint);
  });
});
