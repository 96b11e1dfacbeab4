/**
 * A power cut while a site server's binding report is being recorded: the mock cloud runs as its own process on a
 * SQLite file and is SIGKILLed at a different moment of the request each round. Each report binds many keys, so the
 * kill can land inside the transaction. After a restart every key of the report is bound once with its edge, or
 * none is; sending the same report again (as the site server does) then leaves exactly one binding per key.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DEMO_ORG_ID, DEMO_PASSWORD, DEMO_USERS, MockCloudClient } from '../../../src/mock/cloud/index.js';
import { MAX_BINDINGS_PER_REPORT, type LicenceBindingReport } from '../../../src/protocol/index.js';
import { startEntry } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { demoSite, deviceKey } from './fixtures.js';

// Fixed across restarts: the issuer of the site token, and the control token the rig mints licences with.
const PUBLIC_URL = 'http://cloud.rig.test';
const CONTROL_TOKEN = `power-cut-${randomUUID()}`;
/**
 * When to cut the power, as a fraction of how long an uncut report takes on this machine (measured first): from
 * before the request lands, through the transaction, to after the answer.
 */
const CUT_AT_FRACTIONS = [0, 0.3, 0.5, 0.7, 0.8, 0.9, 1, 1.5];

async function startCloud(db: string) {
  const child = startEntry('node', 'src/mock/cloud/main.ts', ['--db', db, '--public-url', PUBLIC_URL], {
    env: { CONSYSTENCE_CLOUD_CONTROL_TOKEN: CONTROL_TOKEN },
  });
  const line = await child.waitForLine((l) => l.event === 'listening', 30_000);
  const admin = new MockCloudClient(String(line.url));
  admin.setControlToken(CONTROL_TOKEN);
  await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
  return { child, admin, url: String(line.url) };
}

async function report(admin: MockCloudClient): Promise<LicenceBindingReport> {
  const keys = await admin.mintLicences(DEMO_ORG_ID, MAX_BINDINGS_PER_REPORT);
  const publicKey = (await deviceKey()).publicJwk;
  const round = randomUUID().slice(0, 8);
  return {
    bindings: keys.map((licenceKey, i) => ({
      licenceKey,
      edgeId: `cut-${round}-${i}`,
      edgeUuid: randomUUID(),
      hardwareId: testHardwareId(`cut-${i}`),
      publicKey,
      boundAt: new Date().toISOString(),
    })),
  };
}

/** How many of the report's keys are bound, and how many of its edges are registered. */
async function recorded(admin: MockCloudClient, siteId: string, sent: LicenceBindingReport) {
  const keys = new Set(sent.bindings.map((b) => b.licenceKey));
  const uuids = new Set(sent.bindings.map((b) => b.edgeUuid));
  const licences = (await admin.listLicences(DEMO_ORG_ID)).licences.filter((l) => keys.has(l.key));
  const edges = (await admin.listEdges(DEMO_ORG_ID, siteId)).filter((e) => uuids.has(e.id));
  return { bound: licences.filter((l) => l.binding !== null).length, edges: edges.length };
}

describe('a binding report cut by a power failure', () => {
  it('is recorded entirely or not at all, and its replay binds each key once', { timeout: 300_000 }, async () => {
    const db = join(tempDir('licence-cut-'), 'cloud.db');
    let cloud = await startCloud(db);
    const site = await cloud.admin.createSite(DEMO_ORG_ID, demoSite());
    const { siteToken } = await cloud.admin.registerServer(DEMO_ORG_ID, site.id, {
      hardwareId: testHardwareId('server'),
      version: '1.0.0',
      hostname: 'site-server.local',
    });
    const outcomes: string[] = [];
    try {
      const started = performance.now();
      await new MockCloudClient(cloud.url).reportLicenceBindings(
        DEMO_ORG_ID,
        site.id,
        await report(cloud.admin),
        siteToken,
      );
      const uncutMs = performance.now() - started;
      for (const cutAfter of CUT_AT_FRACTIONS.map((fraction) => Math.round(fraction * uncutMs))) {
        const sent = await report(cloud.admin);
        const inFlight = new MockCloudClient(cloud.url)
          .reportLicenceBindings(DEMO_ORG_ID, site.id, sent, siteToken)
          .then(
            () => 'answered',
            () => 'cut',
          );
        await sleep(cutAfter);
        await cloud.child.kill('SIGKILL');
        const answer = await inFlight;

        cloud = await startCloud(db);
        const after = await recorded(cloud.admin, site.id, sent);
        outcomes.push(`${cutAfter} ms: ${answer}, ${after.bound === 0 ? 'nothing' : 'all'} recorded`);
        expect([
          [0, 0],
          [MAX_BINDINGS_PER_REPORT, MAX_BINDINGS_PER_REPORT],
        ]).toContainEqual([after.bound, after.edges]);

        const replay = await new MockCloudClient(cloud.url).reportLicenceBindings(
          DEMO_ORG_ID,
          site.id,
          sent,
          siteToken,
        );
        const expected = after.bound === 0 ? 'recorded' : 'known';
        expect(new Set(replay.results.map((r) => r.status))).toEqual(new Set([expected]));
        expect(await recorded(cloud.admin, site.id, sent)).toEqual({
          bound: MAX_BINDINGS_PER_REPORT,
          edges: MAX_BINDINGS_PER_REPORT,
        });
      }
    } finally {
      await cloud.child.kill('SIGKILL');
    }
    // Which rounds the cut beat the answer depends on the machine; the invariant above held in every round.
    console.log(`licence power cut rounds: ${outcomes.join('; ')}`);
  });
});
