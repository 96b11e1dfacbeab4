/**
 * Update delivery by the mock site server (issue 13), against the real mock cloud and real MQTT clients as edges:
 * campaigns synced and their artifact fetched once, offers retained on `P/update`, the artifact served with
 * `Range` to the targeted edges only, progress passed on to the cloud, cancellation, the artifact fault hook, and
 * the same through mosquitto with the shipped ACL. Fetching from the cloud (refusals, resume, restart) is in
 * update-sync.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockSiteServer } from '../../../src/mock/site-server/index.js';
import { SITE_EDGE_ROUTES, siteEdgeUrl, UpdateCancel, UpdateOffer } from '../../../src/protocol/index.js';
import { mosquittoUnavailable } from '../../helpers/mosquitto.js';
import { tempDir } from '../../helpers/tmp.js';
import { edgeCall } from './helpers/edge-https.js';
import { startHarness } from './helpers/modes.js';
import { api, connectEdge, startCloudSite, startSiteServer, type CloudSite, type PairedEdge } from './helpers/site.js';
import {
  capturingLogger,
  CloudUpdates,
  download,
  downloadUntilCut,
  makeBundle,
  sha256,
  stateReport,
  UpdateInbox,
  type TestRelease,
} from './helpers/updates.js';

describe('update delivery by the site server', () => {
  let site: CloudSite;
  let cloud: CloudUpdates;
  let server: MockSiteServer;
  let events: string[];
  let release: TestRelease;
  let releaseId: string;
  let a: PairedEdge;
  let b: PairedEdge;
  let forA: string;
  let forAll: string;

  beforeAll(async () => {
    site = await startCloudSite();
    cloud = await CloudUpdates.of(site);
    a = await site.pairEdge('edge-a');
    b = await site.pairEdge('edge-b');
    release = await makeBundle('2.0.0');
    releaseId = await cloud.upload(release);
    forA = await cloud.approve(releaseId, [a.edgeId]);
    const captured = capturingLogger();
    events = captured.events;
    server = await startSiteServer(site, { dataDir: tempDir('cst-site-data-') }, captured.logger);
  });
  afterAll(async () => {
    await server?.close();
  });
  const artifactUrl = (campaignId: string) => `${server.edgeUrl}/api/edge/updates/${campaignId}/artifact`;

  it('offers the campaign to its edge retained, and serves the artifact whole and with Range', async () => {
    const edgeA = await connectEdge(server.mqttUrl, a);
    const inboxA = new UpdateInbox(edgeA, a.topics.update);
    await edgeA.subscribeAsync(a.topics.update, { qos: 1 });
    const offer = UpdateOffer.parse(await inboxA.next("edge-a's offer"));
    expect(offer).toMatchObject({ campaignId: forA, manifest: release.manifestJws, allowDowngrade: false });
    expect(offer.url).toBe(artifactUrl(forA));

    const whole = await download(offer.url, a.token);
    expect(whole.status).toBe(200);
    expect(sha256(whole.body)).toBe(release.sha256);
    expect(whole.headers.get('etag')).toBe(`"${release.sha256}"`);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const size = release.artifact.length;
    const tail = await download(offer.url, a.token, { range: 'bytes=1000-' });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes 1000-${size - 1}/${size}`);
    expect(tail.body.equals(release.artifact.subarray(1000))).toBe(true);
    const middle = await download(offer.url, a.token, { range: 'bytes=10-19' });
    expect([middle.status, middle.body.equals(release.artifact.subarray(10, 20))]).toEqual([206, true]);
    const beyond = await download(offer.url, a.token, { range: `bytes=${size}-` });
    expect([beyond.status, beyond.headers.get('content-range')]).toEqual([416, `bytes */${size}`]);
    // The edge-facing HTTPS listener serves the same route, with the same checks.
    const onEdgeListener = siteEdgeUrl(server.edgeUrl, SITE_EDGE_ROUTES.updateArtifact, { campaignId: forA });
    expect((await edgeCall(onEdgeListener)).status).toBe(401);
    expect((await edgeCall(onEdgeListener, { headers: { authorization: `Bearer ${b.token}` } })).status).toBe(403);
    const ranged = await edgeCall(onEdgeListener, {
      headers: { authorization: `Bearer ${a.token}`, range: 'bytes=-10' },
    });
    expect(ranged.status).toBe(206);
    await edgeA.endAsync();
  });

  it('serves the artifact only to a targeted edge with a valid token: 401, 403, 404', async () => {
    expect((await download(artifactUrl(forA), undefined)).status).toBe(401);
    expect((await download(artifactUrl(forA), 'not-a-token')).status).toBe(401);
    expect((await download(artifactUrl(forA), `${a.token.slice(0, -4)}AAAA`)).status).toBe(401);
    // The control token is not an edge token.
    expect((await download(artifactUrl(forA), server.controlToken)).status).toBe(401);
    const refused = await download(artifactUrl(forA), b.token);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body.toString()).error.code).toBe('FORBIDDEN');
    expect((await download(artifactUrl('0b0e6a52-3d0f-4c11-9a7c-6a2c0a9f0e99'), a.token)).status).toBe(404);
    expect((await download(artifactUrl('not-a-campaign'), a.token)).status).toBe(404);
  });

  it('offers a superseding campaign of the same release to every edge without fetching it again, and reports progress', async () => {
    const edgeA = await connectEdge(server.mqttUrl, a);
    const inboxA = new UpdateInbox(edgeA, a.topics.update);
    await edgeA.subscribeAsync(a.topics.update, { qos: 1 });
    expect(UpdateOffer.parse(await inboxA.next("edge-a's retained offer")).campaignId).toBe(forA);
    const size = release.artifact.length;
    await edgeA.publishAsync(
      a.topics.updateState,
      stateReport(forA, 'downloading', { progress: { bytes: 10, total: size } }),
      { qos: 1, retain: true },
    );
    await cloud.waitForProgress(forA, a.edgeId, 'downloading');

    // The cloud cancels forA for the newer campaign; the site server offers that one in its place.
    forAll = await cloud.approve(releaseId);
    expect(UpdateOffer.parse(await inboxA.next("edge-a's new offer")).campaignId).toBe(forAll);
    const edgeB = await connectEdge(server.mqttUrl, b);
    const inboxB = new UpdateInbox(edgeB, b.topics.update);
    await edgeB.subscribeAsync(b.topics.update, { qos: 1 });
    expect(UpdateOffer.parse(await inboxB.next("edge-b's offer")).campaignId).toBe(forAll);
    expect(events.filter((e) => e === 'update_bundle_fetching')).toHaveLength(1);
    expect((await download(artifactUrl(forA), a.token)).status).toBe(410);

    const superseded = { code: 'SUPERSEDED', message: 'another offer replaced this one' };
    await edgeA.publishAsync(a.topics.updateState, stateReport(forA, 'failed', { reason: superseded }), {
      qos: 1,
      retain: true,
    });
    await edgeA.publishAsync(a.topics.updateState, stateReport(forAll, 'succeeded', { runningVersion: '2.0.0' }), {
      qos: 1,
      retain: true,
    });
    expect(await inboxA.next("edge-a's cleared topic")).toBeNull();
    expect((await cloud.waitForProgress(forA, a.edgeId, 'failed')).reason?.code).toBe('SUPERSEDED');
    await cloud.waitForProgress(forAll, a.edgeId, 'succeeded');

    const updates = await api(server, 'GET', '/updates');
    expect(updates.status).toBe(200);
    const all = updates.body.campaigns.find((c: { id: string }) => c.id === forAll);
    expect(all).toMatchObject({ state: 'active', version: '2.0.0', artifact: { state: 'ready' }, edges: null });
    expect(all.progress.map((p: { edgeId: string; state: string }) => [p.edgeId, p.state])).toEqual([
      [a.edgeId, 'succeeded'],
      [b.edgeId, 'pending'],
    ]);
    const first = updates.body.campaigns.find((c: { id: string }) => c.id === forA);
    expect(first).toMatchObject({ state: 'cancelled', progress: [{ edgeId: a.edgeId, state: 'failed' }] });
    const edgeView = await api(server, 'GET', `/edges/${a.edgeId}`);
    expect(edgeView.body.update).toMatchObject({ campaignId: forAll, state: 'succeeded', runningVersion: '2.0.0' });
    expect(inboxB.pending).toBe(0);

    // An edge paired after the approval is targeted too: it is offered the campaign once the site learns of it.
    const late = await site.pairEdge('edge-c');
    const edgeC = await connectEdge(server.mqttUrl, late);
    const inboxC = new UpdateInbox(edgeC, late.topics.update);
    await edgeC.subscribeAsync(late.topics.update, { qos: 1 });
    expect(UpdateOffer.parse(await inboxC.next("edge-c's offer")).campaignId).toBe(forAll);
    expect((await download(artifactUrl(forAll), late.token)).status).toBe(200);
    for (const client of [edgeA, edgeB, edgeC]) await client.endAsync();
  });

  it('cuts a download at the fault hook, and a Range request resumes it', async () => {
    const url = artifactUrl(forAll);
    const servedBefore = ((await api(server, 'GET', '/faults/update-artifact')).body as { servedBytes: number })
      .servedBytes;
    const set = await api(server, 'POST', '/faults/update-artifact', { dropAfterBytes: 50_000, mode: 'once' });
    expect(set.status).toBe(200);
    const head = await downloadUntilCut(url, b.token);
    expect(head.length).toBe(50_000);
    const rest = await download(url, b.token, { range: `bytes=${head.length}-`, 'if-range': `"${release.sha256}"` });
    expect(rest.status).toBe(206);
    expect(sha256(Buffer.concat([head, rest.body]))).toBe(release.sha256);
    expect((await api(server, 'GET', '/faults/update-artifact')).body).toMatchObject({
      dropped: 1,
      dropAfterBytes: null,
      // The cut part plus the resumed rest: exactly the artifact once, as the HIL resume check relies on.
      servedBytes: servedBefore + release.artifact.length,
    });
    await api(server, 'POST', '/faults/update-artifact', { dropAfterBytes: 10, mode: 'always' });
    expect((await downloadUntilCut(url, b.token)).length).toBe(10);
    expect((await downloadUntilCut(url, b.token)).length).toBe(10);
    // Throttled, the artifact still arrives whole (how long it takes is not asserted).
    await api(server, 'POST', '/faults/update-artifact', { bytesPerSecond: 2_000_000 });
    expect((await api(server, 'GET', '/faults/update-artifact')).body).toMatchObject({ bytesPerSecond: 2_000_000 });
    expect(sha256((await download(url, b.token)).body)).toBe(release.sha256);
    await api(server, 'DELETE', '/faults');
    expect((await api(server, 'GET', '/faults/update-artifact')).body).toMatchObject({
      dropAfterBytes: null,
      bytesPerSecond: null,
    });
    expect(sha256((await download(url, b.token)).body)).toBe(release.sha256);
  });

  it('withdraws a cancelled campaign: UpdateCancel to the edges offered it, 410 for its artifact', async () => {
    const edgeB = await connectEdge(server.mqttUrl, b);
    const inboxB = new UpdateInbox(edgeB, b.topics.update);
    await edgeB.subscribeAsync(b.topics.update, { qos: 1 });
    expect(UpdateOffer.parse(await inboxB.next("edge-b's retained offer")).campaignId).toBe(forAll);
    await cloud.cancel(forAll);
    const cancel = UpdateCancel.parse(await inboxB.next("edge-b's cancellation"));
    expect(cancel.campaignId).toBe(forAll);
    const gone = await download(artifactUrl(forAll), b.token);
    expect(gone.status).toBe(410);
    await edgeB.publishAsync(b.topics.updateState, stateReport(forAll, 'cancelled'), { qos: 1, retain: true });
    expect(await inboxB.next("edge-b's cleared topic")).toBeNull();
    await cloud.waitForProgress(forAll, b.edgeId, 'cancelled');
    await edgeB.endAsync();
  });
});

const noMosquitto = mosquittoUnavailable();
if (noMosquitto) console.warn(`update delivery [external broker] skipped: ${noMosquitto}`);
describe.skipIf(Boolean(noMosquitto))('update delivery through an external broker (mosquitto, shipped ACL)', () => {
  it('offers through the broker, retained, and reads the retained state the edge reports', async () => {
    const h = await startHarness('external');
    try {
      const [edge] = h.edges;
      await h.site.pairEdge(edge.edgeId); // the cloud must know the edge to approve a campaign for it
      const cloud = await CloudUpdates.of(h.site);
      const release = await makeBundle('7.0.0');
      const campaign = await cloud.approve(await cloud.upload(release), [edge.edgeId]);
      const client = await h.connect(edge);
      const inbox = new UpdateInbox(client, edge.topics.update);
      await client.subscribeAsync(edge.topics.update, { qos: 1 });
      expect(UpdateOffer.parse(await inbox.next('the offer through mosquitto')).campaignId).toBe(campaign);
      await client.publishAsync(edge.topics.updateState, stateReport(campaign, 'verified'), { qos: 1, retain: true });
      await cloud.waitForProgress(campaign, edge.edgeId, 'verified');
      await client.endAsync();
    } finally {
      await h.server.close();
      await h.mosquitto?.stop();
    }
  });
});
