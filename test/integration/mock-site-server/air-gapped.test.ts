/**
 * The site server air-gapped (issue 15), as real child processes: registered once while connected, then started
 * with the offline licence file a site admin exported, the cloud process stopped and its host unresolvable. It
 * checks keys against the file, binds each to the first hardware for good (across a SIGKILL and a restart), issues
 * and refreshes edge tokens with its own key, admits them at its broker (and refuses a token signed by another
 * key), and reports its bindings once the cloud is back: a key bound elsewhere meanwhile becomes a conflict.
 * A licence file that is forged, or names another server's key, stops it at start.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  DEMO_LICENCE_KEYS,
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import {
  LICENCE_JWS_TYPE,
  licenceHash,
  SITE_EDGE_ROUTES,
  SiteRegisterResponse,
  TokenRefreshResponse,
  edgeTokenAudience,
  edgeTopicPrefix,
  edgeTopics,
  siteEdgeUrl,
  siteIssuer,
} from '../../../src/protocol/index.js';
import { freePort } from '../../helpers/mosquitto.js';
import { ROOT, commandFor, runToEnd, startEntry } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { assertion, deviceKey, edgeBody } from '../mock-cloud/fixtures.js';
import { verifyWithBuiltInKeys } from '../mock-cloud/licence-fixtures.js';
import { edgeCall, registerAt } from './helpers/edge-https.js';
import { api, connectEdge, refusalCode } from './helpers/site.js';

const ENTRY = 'src/mock/site-server/main.ts';
const [K1, K2, K3] = DEMO_LICENCE_KEYS as [string, string, string];

async function startCloud(dbPath: string, port: number) {
  const cloud = await startMockCloud({ dbPath, port });
  const admin = new MockCloudClient(cloud.url);
  admin.setControlToken(cloud.controlToken);
  await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
  return { ...cloud, admin };
}

/** Verifies a site-issued token as the device does: with the key the verified licence names, issuer pinned. */
async function verifySiteIssued(token: string, licence: string, siteId: string) {
  const claims = await verifyWithBuiltInKeys(licence);
  const key = await importJWK(claims.siteServerKey as JWK, 'ES256');
  return (
    await jwtVerify(token, key, {
      algorithms: ['ES256'],
      issuer: siteIssuer(siteId),
      audience: edgeTokenAudience(siteId),
    })
  ).payload;
}

describe('site server, air-gapped', () => {
  it('binds licences offline with the cloud gone, survives a SIGKILL, refreshes and admits its tokens, reports once the cloud is back, again after a lost answer', async () => {
    const dir = tempDir('cst-airgap-');
    const cloudDb = join(dir, 'cloud.db');
    const cloudPort = await freePort();
    let cloud = await startCloud(cloudDb, cloudPort);
    const slug = `s-${randomUUID().slice(0, 8)}`;
    const site = await cloud.admin.createSite(DEMO_ORG_ID, { name: slug, slug, timezone: 'Australia/Perth' });
    const [mqttPort, edgePort] = [await freePort(), await freePort()];
    const base = (cloudUrl: string) => [
      '--cloud',
      cloudUrl,
      '--org',
      DEMO_ORG_ID,
      '--site',
      site.id,
      '--mqtt-port',
      String(mqttPort),
      '--http-port',
      '0',
      '--edge-port',
      String(edgePort),
      '--db',
      join(dir, 'site.db'),
      '--hardware-id',
      testHardwareId('airgap-site'),
      '--refresh-seconds',
      '1',
    ];

    // Connected once: register-server carries the server's signing key, so the cloud can name it in a licence.
    const { code } = await cloud.admin.createPairingCode(DEMO_ORG_ID, site.id, { purpose: 'server' });
    const connected = startEntry('node', ENTRY, base(cloud.url), { env: { CONSYSTENCE_SITE_CODE: code } });
    const connectedReady = await connected.waitForLine((l) => l.event === 'listening', 60_000);
    const { licenceFile } = await cloud.admin.exportOfflineLicence(DEMO_ORG_ID, site.id, { licenceKeys: [K1, K2] });
    const licencePath = join(dir, 'site.licence');
    writeFileSync(licencePath, licenceFile, { mode: 0o600 });
    expect((await connected.kill('SIGTERM')).code).toBe(0);
    await cloud.close();

    // Air-gapped: the cloud process is stopped and its host name does not resolve.
    const offlineArgs = [...base(`http://cloud.invalid:${cloudPort}`), '--licence-file', licencePath];
    let server = startEntry('node', ENTRY, offlineArgs);
    let ready = await server.waitForLine((l) => l.event === 'listening', 90_000);
    const edgeUrl = String(ready.edgeUrl);
    expect(edgeUrl).toBe(`https://127.0.0.1:${edgePort}`);
    expect(ready.fingerprint).toBe(connectedReady.fingerprint);
    const identity = await edgeCall(siteEdgeUrl(edgeUrl, SITE_EDGE_ROUTES.identity));
    expect(identity.body).toMatchObject({ fingerprint: ready.fingerprint, mode: 'air-gapped' });
    expect(identity.peerFingerprint).toBe(ready.fingerprint);
    const health = await api(String(ready.httpUrl), 'GET', '/health');
    expect(health.body).toMatchObject({ fingerprint: ready.fingerprint, mode: 'air-gapped' });
    expect(server.stderr.join('\n')).toContain(String(ready.fingerprint));

    const keyA = await deviceKey();
    const bodyA = { ...edgeBody(keyA, { edgeId: 'orin-a', hardwareId: testHardwareId('a') }), licenceKey: K1 };
    const idempotencyA = randomUUID();
    const first = await registerAt(edgeUrl, bodyA, idempotencyA);
    expect(first.status).toBe(201);
    const answerA = SiteRegisterResponse.parse(first.body);
    expect(answerA.issuer).toBe('site');
    expect(answerA.licence).toBe(licenceFile);
    // What every device receives and stores names the site's licences by hash only: no device can read another key.
    const handedOut = Buffer.from(answerA.licence!.split('.')[1]!, 'base64url').toString();
    for (const key of [K1, K2, K3]) expect(handedOut).not.toContain(key);
    expect(await verifySiteIssued(answerA.edgeToken, answerA.licence!, site.id)).toMatchObject({
      sub: answerA.id,
      edge: 'orin-a',
      org: DEMO_ORG_ID,
      site: site.id,
      hw: bodyA.hardwareId,
    });

    const otherHardware = { ...bodyA, edgeId: 'orin-b', hardwareId: testHardwareId('b') };
    expect((await registerAt(edgeUrl, otherHardware)).body.error.code).toBe('LICENCE_BOUND');
    const unlicensed = await registerAt(edgeUrl, { ...otherHardware, licenceKey: K3 });
    expect([unlicensed.status, unlicensed.body.error.code]).toEqual([403, 'LICENCE_INVALID']);

    // Its broker admits the token it issued, and refuses the same claims signed by a key it did not name.
    const mqttUrl = String(ready.mqttUrl);
    const edgeA = {
      edgeId: 'orin-a',
      token: answerA.edgeToken,
      topics: edgeTopics(edgeTopicPrefix(site.id, 'orin-a')),
    };
    expect(await refusalCode(connectEdge(mqttUrl, edgeA))).toBe(0);
    const { privateKey } = await generateKeyPair('ES256');
    const header = JSON.parse(Buffer.from(answerA.edgeToken.split('.')[0]!, 'base64url').toString()) as { kid: string };
    const forged = await new SignJWT(decodeJwt(answerA.edgeToken))
      .setProtectedHeader({ alg: 'ES256', kid: header.kid })
      .sign(privateKey);
    expect(await refusalCode(connectEdge(mqttUrl, { ...edgeA, token: forged }))).toBe(4);

    // Power cut, then a restart from the same --db: the binding holds, and a replay answers the same.
    await server.kill('SIGKILL');
    server = startEntry('node', ENTRY, offlineArgs);
    ready = await server.waitForLine((l) => l.event === 'listening', 90_000);
    const replay = await registerAt(edgeUrl, bodyA, idempotencyA);
    expect([replay.status, replay.body]).toEqual([201, first.body]);
    expect((await registerAt(edgeUrl, otherHardware)).body.error.code).toBe('LICENCE_BOUND');

    // Token refresh at the site server, with the device assertion checked as the cloud checks it.
    const refreshUrl = siteEdgeUrl(edgeUrl, SITE_EDGE_ROUTES.token, { edgeId: 'orin-a' });
    const signed = await assertion(keyA, answerA.id, refreshUrl);
    const refresh = () => edgeCall(refreshUrl, { method: 'POST', headers: { authorization: `Bearer ${signed}` } });
    const refreshed = await refresh();
    expect(refreshed.status).toBe(200);
    const newToken = TokenRefreshResponse.parse(refreshed.body).edgeToken;
    expect(await verifySiteIssued(newToken, licenceFile, site.id)).toMatchObject({ sub: answerA.id, edge: 'orin-a' });
    expect((await refresh()).body.error.code).toBe('ASSERTION_REPLAYED');
    const wrongAudience = await assertion(keyA, answerA.id, `${edgeUrl}/elsewhere`);
    expect(
      (await edgeCall(refreshUrl, { method: 'POST', headers: { authorization: `Bearer ${wrongAudience}` } })).status,
    ).toBe(401);
    expect(await refusalCode(connectEdge(mqttUrl, { ...edgeA, token: newToken }))).toBe(0);

    // The same device registering again: a new registration holds the key; the old token and its replay are dead.
    const again = await registerAt(edgeUrl, { ...bodyA, hostname: 'orin-a-reflashed' });
    expect(again.status).toBe(201);
    const answerA2 = SiteRegisterResponse.parse(again.body);
    expect(answerA2.id).not.toBe(answerA.id);
    expect(await refusalCode(connectEdge(mqttUrl, { ...edgeA, token: newToken }))).toBe(5);
    expect(await refusalCode(connectEdge(mqttUrl, { ...edgeA, token: answerA2.edgeToken }))).toBe(0);
    expect((await registerAt(edgeUrl, bodyA, idempotencyA)).body.error.code).toBe('EDGE_REVOKED');

    // A second key bound offline, while the cloud (back, but not yet reachable here) binds it to other hardware.
    const keyC = await deviceKey();
    const bodyC = { ...edgeBody(keyC, { edgeId: 'orin-c', hardwareId: testHardwareId('c') }), licenceKey: K2 };
    expect((await registerAt(edgeUrl, bodyC)).status).toBe(201);
    cloud = await startCloud(cloudDb, cloudPort);
    const pairing = await cloud.admin.createPairingCode(DEMO_ORG_ID, site.id, { edgeId: 'orin-d' });
    await cloud.admin.registerEdge(
      DEMO_ORG_ID,
      site.id,
      { ...edgeBody(await deviceKey(), { edgeId: 'orin-d', hardwareId: testHardwareId('d') }), licenceKey: K2 },
      { idempotencyKey: randomUUID(), pairingCode: pairing.code },
    );

    // Reconciliation: restarted with the cloud reachable, it reports what it bound. The cloud's first answer is
    // lost after it committed: the report is sent again, and the cloud knows it (one binding, one conflict).
    await cloud.admin.faults.set({
      type: 'drop-after-commit',
      route: 'POST /api/organisations/*/sites/*/site-server/licence-bindings',
    });
    await server.kill('SIGTERM');
    server = startEntry('node', ENTRY, [...base(cloud.url), '--licence-file', licencePath]);
    ready = await server.waitForLine((l) => l.event === 'listening', 90_000);
    const control = { httpUrl: String(ready.httpUrl), controlToken: String(ready.controlToken) };
    const reported = await waitFor(
      async () => {
        const { body } = await api(control, 'GET', '/licences');
        return body.data.every((b: { reportedAt: string | null }) => b.reportedAt) ? body.data : undefined;
      },
      { timeoutMs: 30_000, what: 'the bindings reported' },
    );
    expect(reported.map((b: { licenceKey: string; reportStatus: string }) => [b.licenceKey, b.reportStatus])).toEqual([
      [K1, 'known'],
      [K2, 'conflict'],
    ]);
    expect(server.stderr.join('\n')).toContain('licence_bindings_report_pending');
    expect(server.stderr.join('\n')).toContain('licence_binding_conflict');
    const { licences } = await cloud.admin.listLicences(DEMO_ORG_ID);
    expect(licences.find((l) => l.key === K1)?.binding).toMatchObject({ via: 'site', hardwareId: bodyA.hardwareId });
    expect(licences.find((l) => l.key === K2)?.conflicts).toEqual([
      expect.objectContaining({ edgeId: 'orin-c', hardwareId: bodyC.hardwareId, via: 'site' }),
    ]);
    const edges = await cloud.admin.listEdges(DEMO_ORG_ID, site.id);
    expect(edges.find((e) => e.edgeId === 'orin-a' && e.status === 'active')).toMatchObject({ id: answerA2.id });
    // The licence keys are edge credentials: none reaches the logs.
    expect(server.stderr.join('\n')).not.toContain(K1);

    await server.kill('SIGTERM');
    await cloud.close();
  });

  it('refuses to start with a forged licence file, one naming another server key, a --licence-keys file that is not JSON (without echoing it), or --offline without one', async () => {
    const dir = tempDir('cst-airgap-forged-');
    const orgId = randomUUID();
    const siteId = randomUUID();
    const devJwk = JSON.parse(readFileSync(join(ROOT, 'keys/dev/licence-signing.private.jwk'), 'utf8')) as JWK;
    const otherServerKey = await generateKeyPair('ES256', { extractable: true });
    const claims = {
      typ: 'offline-licence',
      iss: 'http://cloud.example',
      jti: randomUUID(),
      org: orgId,
      site: siteId,
      licenceHashes: [licenceHash(siteId, K1)],
      siteServerKey: { ...(await exportJWK(otherServerKey.publicKey)), kid: 'site-other' },
      iat: Math.floor(Date.now() / 1000),
    };
    const sign = async (key: Parameters<SignJWT['sign']>[0]) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: LICENCE_JWS_TYPE, kid: devJwk.kid! }).sign(key);
    const forgedPath = join(dir, 'forged.licence');
    writeFileSync(forgedPath, await sign((await generateKeyPair('ES256')).privateKey));
    const otherKeyPath = join(dir, 'other-key.licence');
    writeFileSync(otherKeyPath, await sign(await importJWK(devJwk, 'ES256')));

    const { command, args } = commandFor('node', ENTRY);
    const flags = (licence: string) => [
      ...args,
      '--cloud',
      'http://cloud.invalid:1',
      '--org',
      orgId,
      '--site',
      siteId,
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--db',
      join(dir, 'site.db'),
      '--licence-file',
      licence,
      '--offline',
    ];
    const forged = await runToEnd(command, flags(forgedPath), { timeoutMs: 60_000 });
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/licence file is refused: its signature does not verify/);
    const otherKey = await runToEnd(command, flags(otherKeyPath), { timeoutMs: 60_000 });
    expect(otherKey.code).toBe(1);
    expect(otherKey.stderr).toMatch(/names another site server key/);
    // A wrong file given as --licence-keys (here, a secret) is refused without echoing any of its content.
    const secretPath = join(dir, 'not-keys.txt');
    writeFileSync(secretPath, 'CST-EDGE-SECRET-0001 do not print me');
    const wrongKeys = await runToEnd(command, [...flags(forgedPath), '--licence-keys', secretPath], {
      timeoutMs: 60_000,
    });
    expect(wrongKeys.code).toBe(2);
    expect(wrongKeys.stderr).toMatch(/--licence-keys .*not JSON/);
    expect(wrongKeys.stderr).not.toMatch(/SECRET|CST-EDGE|print me/);
    const withoutFile = await runToEnd(
      command,
      flags(forgedPath).filter((f) => f !== '--licence-file' && f !== forgedPath),
      {
        timeoutMs: 60_000,
      },
    );
    expect(withoutFile.code).toBe(2);
    expect(withoutFile.stderr).toMatch(/--offline needs --licence-file/);
  });
});
