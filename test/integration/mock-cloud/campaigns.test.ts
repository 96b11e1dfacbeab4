/**
 * Update campaigns (issue 13), in process: roles on every route, what a campaign may target, supersede and
 * cancel, what the site server reads with its site token, and progress reports that arrive out of order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PLATFORM_ADMIN, DEMO_USERS } from '../../../src/mock/cloud/seed.js';
import { Roles, type ReleaseManifest, type Role } from '../../../src/protocol/index.js';
import { InProcessCloud, OUTSIDER, type Call } from './in-process.js';
import { releaseKey, runtimeBundle, type ReleaseKey } from './release-fixtures.js';
import { siteWithEdges, upload, type TestSite } from './update-fixtures.js';

let cloud: InProcessCloud;
let key: ReleaseKey;
let platform: string;
let owner: string;
const tokens = new Map<string, string>();
let versions = 0;

/** A fresh runtime release (a new version each time, so none conflicts). */
async function newRelease(manifest: Partial<ReleaseManifest> = {}): Promise<string> {
  const bundle = await runtimeBundle(key, { manifest: { version: `1.${++versions}.0`, ...manifest } });
  const res = await upload(cloud, platform, bundle.bytes);
  if (res.status !== 201) throw new Error(JSON.stringify(res.json));
  return res.json.id;
}

async function approve(site: TestSite, body: object, bearer = owner) {
  return cloud.call({ method: 'POST', path: `${site.path}/update-campaigns`, bearer, body });
}

beforeAll(async () => {
  key = await releaseKey();
  cloud = await InProcessCloud.start({ releaseKeys: [key.trusted] });
  platform = await cloud.token(DEMO_PLATFORM_ADMIN);
  for (const role of Roles) tokens.set(role, await cloud.token(DEMO_USERS[role]));
  tokens.set('outsider', await cloud.token(OUTSIDER));
  owner = tokens.get('owner')!;
});
afterAll(() => cloud?.close());

describe('roles', () => {
  let site: TestSite;
  beforeAll(async () => {
    site = await siteWithEdges(cloud, owner, 1);
  });
  const routes: Array<{ name: string; minimum: Role; build: () => Promise<Call> }> = [
    {
      name: 'approve (POST campaigns)',
      minimum: 'admin',
      build: async () => ({
        method: 'POST',
        path: `${site.path}/update-campaigns`,
        body: { releaseId: await newRelease() },
      }),
    },
    {
      name: 'list campaigns',
      minimum: 'viewer',
      build: async () => ({ method: 'GET', path: `${site.path}/update-campaigns` }),
    },
    {
      name: 'get a campaign',
      minimum: 'viewer',
      build: async () => {
        const id = (await approve(site, { releaseId: await newRelease() })).json.id;
        return { method: 'GET', path: `${site.path}/update-campaigns/${id}` };
      },
    },
    {
      name: 'cancel a campaign',
      minimum: 'admin',
      build: async () => {
        const id = (await approve(site, { releaseId: await newRelease() })).json.id;
        return { method: 'POST', path: `${site.path}/update-campaigns/${id}/cancel` };
      },
    },
  ];

  describe.each(routes)('$name (minimum $minimum)', ({ minimum, build }) => {
    it.each(Roles.map((role) => ({ role })))('as $role', async ({ role }) => {
      const res = await cloud.call({ ...(await build()), bearer: tokens.get(role)! });
      if (Roles.indexOf(role) <= Roles.indexOf(minimum)) expect(res.status, JSON.stringify(res.json)).toBeLessThan(300);
      else expect([res.status, res.json.error.code]).toEqual([403, 'FORBIDDEN']);
    });
    it('as a user of another organisation (403), without a token (401), with the site token (401)', async () => {
      const call = await build();
      expect((await cloud.call({ ...call, bearer: tokens.get('outsider')! })).status).toBe(403);
      expect((await cloud.call(call)).status).toBe(401);
      expect((await cloud.call({ ...call, bearer: site.siteToken })).status).toBe(401);
    });
  });

  it('the site server routes take only the site token of that site', async () => {
    const other = await siteWithEdges(cloud, owner, 1);
    const campaign = (await approve(site, { releaseId: await newRelease() })).json;
    const list = `${site.path}/site-server/update-campaigns`;
    const progress = `${list}/${campaign.id}/progress`;
    const report = { edges: [{ edgeId: site.edgeIds[0], state: 'offered', at: new Date().toISOString() }] };
    expect((await cloud.call({ method: 'GET', path: list, bearer: site.siteToken })).status).toBe(200);
    for (const bearer of [other.siteToken, undefined, owner]) {
      const expected = bearer === other.siteToken ? 403 : 401;
      expect((await cloud.call({ method: 'GET', path: list, bearer })).status).toBe(expected);
      expect((await cloud.call({ method: 'POST', path: progress, bearer, body: report })).status).toBe(expected);
    }
  });
});

describe('approving a campaign', () => {
  it('targets every active edge of the site, each pending until it reports', async () => {
    const site = await siteWithEdges(cloud, owner, 2);
    const res = await approve(site, { releaseId: await newRelease() });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ siteId: site.siteId, edges: null, allowDowngrade: false, state: 'active' });
    expect(res.json.release).toMatchObject({ kind: 'runtime', name: 'consystence-edge', kid: key.trusted.kid });
    expect(res.json.progress).toEqual(site.edgeIds.map((edgeId) => ({ edgeId, state: 'pending' })));
  });

  it('targets a list of edges, with a downgrade allowed', async () => {
    const site = await siteWithEdges(cloud, owner, 2);
    const res = await approve(site, { releaseId: await newRelease(), edges: [site.edgeIds[1]], allowDowngrade: true });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ edges: [site.edgeIds[1]], allowDowngrade: true });
    expect(res.json.progress).toEqual([{ edgeId: site.edgeIds[1], state: 'pending' }]);
  });

  it('refuses an unknown release (404), an edge of another site or one listed twice (400), and stores nothing', async () => {
    const site = await siteWithEdges(cloud, owner, 1);
    const other = await siteWithEdges(cloud, owner, 1);
    const releaseId = await newRelease();
    const before = cloud.snapshot();
    const unknown = await approve(site, { releaseId: '00000000-0000-4000-8000-000000000000' });
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'NOT_FOUND']);
    const foreign = await approve(site, { releaseId, edges: [site.edgeIds[0], other.edgeIds[0]] });
    expect([foreign.status, foreign.json.error.details]).toEqual([
      400,
      [{ field: 'edges.1', message: `${other.edgeIds[0]} is not an active edge of this site` }],
    ]);
    const twice = await approve(site, { releaseId, edges: [site.edgeIds[0], site.edgeIds[0]] });
    expect([twice.status, twice.json.error.details[0].field]).toEqual([400, 'edges.1']);
    const extra = await approve(site, { releaseId, force: true });
    expect(extra.status).toBe(400);
    const noSite = await cloud.call({
      method: 'POST',
      path: `${site.path.replace(site.siteId, '00000000-0000-4000-8000-000000000000')}/update-campaigns`,
      bearer: owner,
      body: { releaseId },
    });
    expect(noSite.status).toBe(404);
    expect(cloud.snapshot()).toEqual(before);
  });

  it('supersedes the active campaign of the same release kind and name, and only that one', async () => {
    const site = await siteWithEdges(cloud, owner, 1);
    const first = (await approve(site, { releaseId: await newRelease() })).json;
    const otherProduct = (await approve(site, { releaseId: await newRelease({ name: 'edge-tools' }) })).json;
    const second = (await approve(site, { releaseId: await newRelease() })).json;
    const list = await cloud.ok({ method: 'GET', path: `${site.path}/update-campaigns`, bearer: tokens.get('viewer') });
    const state = (id: string) => list.campaigns.find((c: { id: string }) => c.id === id);
    expect(list.campaigns.map((c: { id: string }) => c.id)).toEqual([second.id, otherProduct.id, first.id]);
    expect(state(first.id)).toMatchObject({ state: 'cancelled', cancelledAt: expect.any(String) });
    expect(state(second.id).state).toBe('active');
    expect(state(otherProduct.id).state).toBe('active');
  });
});

describe('cancelling', () => {
  it('cancels once; again is harmless; the site server still sees it, to withdraw it', async () => {
    const site = await siteWithEdges(cloud, owner, 1);
    const campaign = (await approve(site, { releaseId: await newRelease() })).json;
    const path = `${site.path}/update-campaigns/${campaign.id}/cancel`;
    const cancelled = await cloud.ok({ method: 'POST', path, bearer: tokens.get('admin') });
    expect(cancelled).toMatchObject({ id: campaign.id, state: 'cancelled' });
    const again = await cloud.ok({ method: 'POST', path, bearer: owner });
    expect(again.cancelledAt).toBe(cancelled.cancelledAt);

    const seen = await cloud.ok({
      method: 'GET',
      path: `${site.path}/site-server/update-campaigns`,
      bearer: site.siteToken,
    });
    expect(seen.campaigns).toEqual([
      {
        id: campaign.id,
        releaseId: campaign.release.id,
        manifest: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        edges: null,
        allowDowngrade: false,
        state: 'cancelled',
      },
    ]);
  });

  it('an unknown campaign is 404, also through another site', async () => {
    const site = await siteWithEdges(cloud, owner, 1);
    const other = await siteWithEdges(cloud, owner, 1);
    const campaign = (await approve(site, { releaseId: await newRelease() })).json;
    const res = await cloud.call({
      method: 'POST',
      path: `${other.path}/update-campaigns/${campaign.id}/cancel`,
      bearer: owner,
    });
    expect(res.status).toBe(404);
    const get = await cloud.ok({ method: 'GET', path: `${site.path}/update-campaigns/${campaign.id}`, bearer: owner });
    expect(get.state).toBe('active');
  });
});

describe('progress reports', () => {
  const at = (second: number) => new Date(Date.UTC(2026, 10, 26, 12, 0, second)).toISOString();

  it('keep the newest state of each edge, whatever order they arrive in', async () => {
    const site = await siteWithEdges(cloud, owner, 2);
    const campaign = (await approve(site, { releaseId: await newRelease() })).json;
    const [a, b] = site.edgeIds as [string, string];
    const report = (edges: object[]) =>
      cloud.ok({
        method: 'POST',
        path: `${site.path}/site-server/update-campaigns/${campaign.id}/progress`,
        bearer: site.siteToken,
        body: { edges },
      });
    const view = async () =>
      (await cloud.ok({ method: 'GET', path: `${site.path}/update-campaigns/${campaign.id}`, bearer: owner })).progress;

    expect(
      await report([
        { edgeId: a, state: 'downloading', progress: { bytes: 500, total: 1000 }, at: at(10) },
        { edgeId: b, state: 'failed', reason: { code: 'INSUFFICIENT_SPACE', message: 'full' }, at: at(5) },
      ]),
    ).toEqual({ recorded: 2, ignored: 0 });
    // An older report (a retried batch) is ignored: a stays downloading.
    expect(await report([{ edgeId: a, state: 'offered', at: at(1) }])).toEqual({ recorded: 0, ignored: 1 });
    expect(await view()).toEqual([
      { edgeId: a, state: 'downloading', progress: { bytes: 500, total: 1000 }, updatedAt: at(10) },
      { edgeId: b, state: 'failed', reason: { code: 'INSUFFICIENT_SPACE', message: 'full' }, updatedAt: at(5) },
    ]);
    // Two transitions in the same millisecond: the one further along wins, in either order.
    await report([{ edgeId: a, state: 'installing', at: at(20) }]);
    expect(await report([{ edgeId: a, state: 'verified', at: at(20) }])).toEqual({ recorded: 0, ignored: 1 });
    expect(
      await report([{ edgeId: a, state: 'succeeded', runningVersion: campaign.release.version, at: at(30) }]),
    ).toEqual({ recorded: 1, ignored: 0 });
    expect((await view())[0]).toEqual({
      edgeId: a,
      state: 'succeeded',
      runningVersion: campaign.release.version,
      updatedAt: at(30),
    });
  });

  it('ignore an edge the campaign does not target; refuse a bad body or an unknown campaign, changing nothing', async () => {
    const site = await siteWithEdges(cloud, owner, 2);
    const campaign = (await approve(site, { releaseId: await newRelease(), edges: [site.edgeIds[0]] })).json;
    const path = `${site.path}/site-server/update-campaigns/${campaign.id}/progress`;
    const stray = await cloud.ok({
      method: 'POST',
      path,
      bearer: site.siteToken,
      body: { edges: [{ edgeId: site.edgeIds[1], state: 'offered', at: at(1) }] },
    });
    expect(stray).toEqual({ recorded: 0, ignored: 1 });

    const before = cloud.snapshot();
    const bad = await cloud.call({
      method: 'POST',
      path,
      bearer: site.siteToken,
      body: { edges: [{ edgeId: site.edgeIds[0], state: 'exploded', at: at(2) }] },
    });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'VALIDATION_ERROR']);
    const unknown = await cloud.call({
      method: 'POST',
      path: path.replace(campaign.id, '00000000-0000-4000-8000-000000000000'),
      bearer: site.siteToken,
      body: { edges: [{ edgeId: site.edgeIds[0], state: 'offered', at: at(2) }] },
    });
    expect(unknown.status).toBe(404);
    expect(cloud.snapshot()).toEqual(before);
  });
});
