/**
 * CONNECT authentication on the embedded broker (CONTRACT §4) with tokens issued by the real mock cloud:
 * 0 for a good token; 4 for bad, forged, unsigned or expired tokens and a username that is not the client id;
 * 5 for a valid token used by another edge, a token for another site, and a revoked edge. A revocation in the
 * cloud also closes a live session within the refresh period.
 */
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockSiteServer } from '../../../src/mock/site-server/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  api,
  connect,
  connectEdge,
  refusalCode,
  startCloudSite,
  startSiteServer,
  type CloudSite,
  type PairedEdge,
} from './helpers/site.js';

describe('edge authentication (embedded broker)', () => {
  let site: CloudSite;
  let server: MockSiteServer;
  let edge: PairedEdge;
  beforeAll(async () => {
    site = await startCloudSite();
    server = await startSiteServer(site);
    edge = await site.pairEdge('orin-auth');
  });
  afterAll(async () => server?.close());

  it('accepts a cloud-issued token with clientId = username = edgeId', async () => {
    expect(await refusalCode(connectEdge(server.mqttUrl, edge))).toBe(0);
  });

  it('refuses bad credentials with 4', async () => {
    const claims = decodeJwt(edge.token);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'forged' }).sign(privateKey);
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const unsigned = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    const cases: Array<[string, Parameters<typeof connect>[1]]> = [
      ['no password', { clientId: edge.edgeId, username: edge.edgeId }],
      ['garbage password', { clientId: edge.edgeId, username: edge.edgeId, password: 'not-a-jwt' }],
      ['forged signature', { clientId: edge.edgeId, username: edge.edgeId, password: forged }],
      ['alg none', { clientId: edge.edgeId, username: edge.edgeId, password: unsigned }],
      ['username differs from clientId', { clientId: edge.edgeId, username: 'someone-else', password: edge.token }],
      // (A password without a username is a protocol error in 3.1.1: mqtt.js will not even send it.)
      ['huge password', { clientId: edge.edgeId, username: edge.edgeId, password: 'x'.repeat(20_000) }],
    ];
    for (const [what, options] of cases)
      expect([what, await refusalCode(connect(server.mqttUrl, options))]).toEqual([what, 4]);
  });

  it('refuses a token once a newer one of the same edge was used (a rotated token is dead)', async () => {
    const rotating = await site.pairEdge('orin-rotate');
    expect(await refusalCode(connectEdge(server.mqttUrl, rotating))).toBe(0);
    // iat has whole seconds: the refreshed token must be issued in a later second than the first.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const newer = await rotating.refresh();
    expect(await refusalCode(connectEdge(server.mqttUrl, { ...rotating, token: newer }))).toBe(0);
    expect(await refusalCode(connectEdge(server.mqttUrl, rotating))).toBe(4);
    expect(await refusalCode(connectEdge(server.mqttUrl, { ...rotating, token: newer }))).toBe(0);
  });

  it('refuses an expired token with 4', async () => {
    await site.admin.setClock(-31 * 86_400);
    let old: PairedEdge;
    try {
      old = await site.pairEdge('orin-expired');
    } finally {
      await site.admin.setClock(0);
    }
    expect(await refusalCode(connectEdge(server.mqttUrl, old))).toBe(4);
  });

  it('refuses with 5 a valid token used by another edge, or issued for another site', async () => {
    const other = await site.pairEdge('orin-other');
    expect(
      await refusalCode(
        connect(server.mqttUrl, { clientId: other.edgeId, username: other.edgeId, password: edge.token }),
      ),
    ).toBe(5);

    // A second site of the same cloud: same signing key, so only the audience and `site` claim differ.
    const slug = `other-${Date.now().toString(36)}`;
    const otherSite = await site.admin.createSite(site.orgId, { name: slug, slug, timezone: 'UTC' });
    const foreign = await pairOnSite(site, otherSite.id, 'orin-foreign');
    expect(
      await refusalCode(
        connect(server.mqttUrl, { clientId: 'orin-foreign', username: 'orin-foreign', password: foreign }),
      ),
    ).toBe(5);
  });

  it('kicks a live edge within the refresh period once the cloud revokes it, and refuses it afterwards', async () => {
    const doomed = await site.pairEdge('orin-doomed');
    const client = await connectEdge(server.mqttUrl, doomed);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await site.admin.revokeEdge(site.orgId, site.siteId, doomed.edgeId);
    // refreshSeconds is 1 in these tests; allow several periods on a loaded machine.
    await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('not kicked within 10 s')), 10_000)),
    ]);
    expect(await refusalCode(connectEdge(server.mqttUrl, doomed))).toBe(5);
    const view = await waitFor(async () => {
      const r = (await api(server, 'GET', '/edges')).body;
      return r.data.find((e: any) => e.edgeId === doomed.edgeId && e.registration === 'revoked');
    });
    expect(view.connected).toBe(false);
  });
});

/** Pairs an edge on another site of the same cloud (same signing key, other audience). */
async function pairOnSite(site: CloudSite, siteId: string, edgeId: string): Promise<string> {
  const { randomUUID } = await import('node:crypto');
  const { exportJWK } = await import('jose');
  const { testHardwareId } = await import('../../helpers/tmp.js');
  const { code } = await site.admin.createPairingCode(site.orgId, siteId, { edgeId });
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const { x, y } = await exportJWK(publicKey);
  const registered = await site.admin.registerEdge(
    site.orgId,
    siteId,
    {
      edgeId,
      hardwareId: testHardwareId(edgeId),
      version: '0.0.1',
      hostname: 'test-edge',
      publicKey: { kty: 'EC', crv: 'P-256', x: x!, y: y! },
    },
    { idempotencyKey: randomUUID(), pairingCode: code },
  );
  return registered.edgeToken;
}
