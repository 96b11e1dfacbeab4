/**
 * How the mock site server gets update artifacts from the real mock cloud (issue 13): bundles it must refuse (a key
 * it does not trust, an artifact that does not match its manifest) are reported failed for their edges with nothing
 * kept or offered; a cut fetch resumes from the bytes on disk; a restart keeps campaigns, the artifact and the
 * progress the cloud has not acknowledged.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import type { PrivateReleaseJwk } from '../../../scripts/release/lib.js';
import { UpdateOffer } from '../../../src/protocol/index.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { api, connectEdge, startCloudSite, startSiteServer, type CloudSite } from './helpers/site.js';
import {
  capturingLogger,
  CloudUpdates,
  download,
  makeBundle,
  sha256,
  stateReport,
  UpdateInbox,
} from './helpers/updates.js';

describe('bundles the site server refuses', () => {
  /** An edge subscribed to its offers, a campaign for it, and what the site server and the cloud then show. */
  async function refusedFor(site: CloudSite, releaseId: string, code: string) {
    const cloud = await CloudUpdates.of(site);
    const edge = await site.pairEdge('edge-r');
    const campaign = await cloud.approve(releaseId, [edge.edgeId]);
    const captured = capturingLogger();
    const dataDir = tempDir('cst-site-data-');
    const server = await startSiteServer(site, { dataDir }, captured.logger);
    const client = await connectEdge(server.mqttUrl, edge);
    const inbox = new UpdateInbox(client, edge.topics.update);
    await client.subscribeAsync(edge.topics.update, { qos: 1 });
    const failed = await cloud.waitForProgress(campaign, edge.edgeId, 'failed');
    expect(failed.reason?.code).toBe(code);
    const listed = (await api(server, 'GET', '/updates')).body.campaigns[0];
    expect(listed).toMatchObject({
      id: campaign,
      artifact: { state: 'refused', reason: { code } },
      progress: [{ edgeId: edge.edgeId, state: 'failed', reason: { code } }],
    });
    expect(captured.events).toContain('update_campaign_refused');
    await new Promise((r) => setTimeout(r, 500));
    expect(inbox.pending).toBe(0);
    expect((await download(`${server.edgeUrl}/api/edge/updates/${campaign}/artifact`, edge.token)).status).toBe(404);
    expect(readdirSync(join(dataDir, 'updates'))).toEqual([]);
    await client.endAsync();
    await server.close();
  }

  it('refuses a release signed by a key it does not trust: failed (BAD_SIGNATURE) for its edges, nothing offered', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const rigKey = { ...(await exportJWK(privateKey)), kid: 'rig-only' } as PrivateReleaseJwk;
    const site = await startCloudSite({
      releaseKeys: [{ kid: 'rig-only', jwk: (await exportJWK(publicKey)) as never }],
    });
    const release = await makeBundle('4.0.0', { key: rigKey });
    await refusedFor(site, await (await CloudUpdates.of(site)).upload(release), 'BAD_SIGNATURE');
  });

  it('refuses an artifact that does not match its manifest (altered at the cloud): HASH_MISMATCH, nothing kept', async () => {
    const cloudDb = join(tempDir('cst-cloud-'), 'cloud.db');
    const site = await startCloudSite({ dbPath: cloudDb });
    const release = await makeBundle('5.0.0');
    const releaseId = await (await CloudUpdates.of(site)).upload(release);
    // The stored bundle is altered after the cloud verified it: one byte of the artifact, its size unchanged.
    const stored = `${cloudDb}.releases/${releaseId}.bundle`;
    const bytes = readFileSync(stored);
    bytes[bytes.length - 100]! ^= 0xff;
    writeFileSync(stored, bytes);
    await refusedFor(site, releaseId, 'HASH_MISMATCH');
  });
});

describe('fetching a bundle from the cloud', () => {
  it('resumes a cut fetch with Range from the bytes already on disk', async () => {
    const site = await startCloudSite();
    const cloud = await CloudUpdates.of(site);
    const edge = await site.pairEdge('edge-f');
    const release = await makeBundle('6.0.0');
    const releaseId = await cloud.upload(release);
    await cloud.approve(releaseId, [edge.edgeId]);
    // What a fetch cut after 100 000 bytes leaves behind.
    const dataDir = tempDir('cst-site-data-');
    mkdirSync(join(dataDir, 'updates'), { mode: 0o700 });
    writeFileSync(
      join(dataDir, 'updates', `${releaseId}.bundle.part`),
      readFileSync(release.path).subarray(0, 100_000),
    );
    const captured = capturingLogger();
    const server = await startSiteServer(site, { dataDir }, captured.logger);
    const client = await connectEdge(server.mqttUrl, edge);
    const inbox = new UpdateInbox(client, edge.topics.update);
    await client.subscribeAsync(edge.topics.update, { qos: 1 });
    const offer = UpdateOffer.parse(await inbox.next('the offer'));
    expect(captured.records.filter((r) => r.event === 'update_bundle_fetching')).toMatchObject([{ offset: 100_000 }]);
    expect(sha256((await download(offer.url, edge.token)).body)).toBe(release.sha256);
    expect(readdirSync(join(dataDir, 'updates'))).toEqual([`${release.sha256}.artifact`]);
    await client.endAsync();
    await server.close();
  });
});

describe('a restart of the site server', () => {
  it('keeps campaigns, the artifact and progress the cloud has not acknowledged', async () => {
    const dir = tempDir('cst-site-restart-');
    const cloudDb = join(dir, 'cloud.db');
    let site = await startCloudSite({ dbPath: cloudDb });
    const port = Number(new URL(site.cloudUrl).port);
    const cloud = await CloudUpdates.of(site);
    const edge = await site.pairEdge('edge-r');
    const release = await makeBundle('3.0.0');
    const campaign = await cloud.approve(await cloud.upload(release), [edge.edgeId]);
    const options = {
      db: join(dir, 'site.db'),
      dataDir: join(dir, 'site-data'),
      hardwareId: testHardwareId('restart'),
    };
    let captured = capturingLogger();
    let server = await startSiteServer(site, { ...options, code: await site.serverCode() }, captured.logger);
    const client = await connectEdge(server.mqttUrl, edge);
    const inbox = new UpdateInbox(client, edge.topics.update);
    await client.subscribeAsync(edge.topics.update, { qos: 1 });
    expect(UpdateOffer.parse(await inbox.next('the offer')).campaignId).toBe(campaign);

    // The cloud goes away; the edge reports; the site server cannot pass it on, then stops.
    await site.stopCloud();
    await client.publishAsync(edge.topics.updateState, stateReport(campaign, 'downloaded'), { qos: 1, retain: true });
    await waitFor(
      async () => (await api(server, 'GET', '/updates')).body.campaigns[0]?.progress[0]?.state === 'downloaded',
      {
        what: 'the report at the site server',
      },
    );
    await client.endAsync();
    await server.close();

    site = { ...(await startCloudSite({ dbPath: cloudDb, port })), siteId: site.siteId, orgId: site.orgId };
    captured = capturingLogger();
    server = await startSiteServer(site, options, captured.logger);
    await cloud.waitForProgress(campaign, edge.edgeId, 'downloaded');
    const again = await connectEdge(server.mqttUrl, edge);
    const inboxAgain = new UpdateInbox(again, edge.topics.update);
    await again.subscribeAsync(edge.topics.update, { qos: 1 });
    const offer = UpdateOffer.parse(await inboxAgain.next('the offer after the restart'));
    expect(offer.campaignId).toBe(campaign);
    expect(sha256((await download(offer.url, edge.token)).body)).toBe(release.sha256);
    expect(captured.events).not.toContain('update_bundle_fetching');
    await again.endAsync();
    await server.close();
  });
});
