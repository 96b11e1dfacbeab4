/**
 * The update engine against a real HTTP server serving a real artifact with Range, over a real identity.db:
 * the whole path to the restart, refusals that leave nothing behind, resume from the persisted offset (bytes
 * counted at the server), cancel, supersede, idempotent offers, trial commit and the launcher's rollback record.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/common/log/log.js';
import { startArtifactServer } from '../../helpers/artifact-server.js';
import { mountTmpfs } from '../../helpers/files.js';
import { makeReleaseKey, signRotation, type TestReleaseKey } from '../../helpers/release.js';
import { engineBed, offerPayload, runtimeRelease, TOKEN } from '../../helpers/update-engine.js';
import { waitFor } from '../../helpers/wait.js';

let key: TestReleaseKey;
let stranger: TestReleaseKey;
beforeAll(async () => {
  [key, stranger] = await Promise.all([makeReleaseKey('test'), makeReleaseKey('stranger')]);
});

const nothingWritten = (stateDir: string) => {
  expect(existsSync(join(stateDir, 'releases'))).toBe(false);
  expect(existsSync(join(stateDir, 'update'))).toBe(false);
};

describe('update engine: an offer to the restart', () => {
  it('downloads, verifies and installs a runtime, swaps the links, writes the trial record and asks to restart', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    // Each transition once, in order (progress reports repeat `downloading`).
    expect(bed.states().filter((state, i, all) => state !== all[i - 1])).toEqual([
      'offered',
      'downloading',
      'downloaded',
      'verified',
      'installing',
      'restarting',
    ]);
    expect(bed.restarts).toBe(1);
    const binary = join(bed.paths.release('2.0.0'), 'consystence-edge');
    expect(readFileSync(binary).equals(release.binary)).toBe(true);
    expect(statSync(binary).mode & 0o777).toBe(0o755);
    expect(readlinkSync(bed.paths.current)).toBe('2.0.0');
    expect(readlinkSync(bed.paths.previous)).toBe('factory');
    expect(readFileSync(bed.paths.trial, 'utf8')).toContain('version=2.0.0\nprevious=factory\nwindow_s=30');
    expect(existsSync(bed.paths.snapshot)).toBe(true);
    // The finished download is not kept once installed.
    expect(readdirSync(bed.paths.downloads)).toEqual([]);
    expect(bed.reports.at(-1)).toMatchObject({ version: '2.0.0', runningVersion: '1.0.0', state: 'restarting' });
  });
});

describe('update engine: refusals change nothing', () => {
  it.each([
    ['a manifest signed by an untrusted key', 'BAD_SIGNATURE', { signer: 'stranger' }],
    ['a release for another architecture', 'WRONG_ARCH', { arch: 'arm64' as const }],
    ['an older version without allowDowngrade', 'DOWNGRADE', { version: '0.9.0' }],
    ['the running version again', 'DOWNGRADE', { version: '1.0.0' }],
  ])('%s is refused with %s before anything is written', async (_what, code, change) => {
    const { signer, ...manifest } = { signer: 'test', ...change };
    const release = await runtimeRelease(signer === 'stranger' ? stranger : key, manifest);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    expect(bed.reports.at(-1)).toMatchObject({ state: 'failed', reason: { code } });
    expect(server.ranges).toEqual([]);
    nothingWritten(bed.stateDir);
  });

  it('passes over a key-rotation document it cannot apply: the manifest, signed by a trusted key, decides', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    const untrusted = await signRotation(stranger, 5, [stranger.trusted]);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { releaseKeys: untrusted }));
    await bed.engine.settled();
    expect(bed.reports.map((r) => r.state)).not.toContain('failed');
    expect(bed.reports.at(-1)).toMatchObject({ state: 'restarting' });
  });

  it('allows a downgrade when the campaign says so', async () => {
    const release = await runtimeRelease(key, { version: '0.9.0' });
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { allowDowngrade: true }));
    await bed.engine.settled();
    expect(bed.states().at(-1)).toBe('restarting');
  });

  it('refuses INSUFFICIENT_SPACE when the download and the install do not fit with the margin', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin, { space: () => ({ free: 64 * 2 ** 20, total: 100 * 2 ** 20 }) });
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    expect(bed.reports.at(-1)).toMatchObject({ state: 'failed', reason: { code: 'INSUFFICIENT_SPACE' } });
    expect(server.ranges).toEqual([]);
    nothingWritten(bed.stateDir);
  });

  it('deletes the partial file when the server serves other bytes than the manifest names', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.body = Buffer.from(release.artifact).fill(7, 1000, 2000);
    server.etag = null;
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    expect(bed.reports.at(-1)).toMatchObject({ state: 'failed', reason: { code: 'HASH_MISMATCH' } });
    expect(readdirSync(bed.paths.downloads)).toEqual([]);
    expect(existsSync(bed.paths.current)).toBe(false);
  });

  it('refuses to send the token to another origin than the site server', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, 'http://127.0.0.1:1');
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    expect(bed.reports.at(-1)).toMatchObject({ state: 'failed', reason: { code: 'DOWNLOAD_FAILED' } });
    expect(server.ranges).toEqual([]);
  });
});

describe('update engine: resumable download', () => {
  it('resumes from its offset after the link drops, not from zero (bytes counted at the server)', async () => {
    const release = await runtimeRelease(key, {}, 2 * 1024 * 1024);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.dropAfter = 700_000;
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await waitFor(() => server.ranges.length >= 2, { timeoutMs: 30_000, what: 'a second request' });
    server.dropAfter = null;
    await bed.engine.settled();
    expect(bed.states().at(-1)).toBe('restarting');
    expect(server.ranges[0]).toBeNull();
    expect(server.ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
    // Everything was sent once, plus at most what was in flight when the link died.
    expect(server.bytesSent).toBeLessThan(release.artifact.length + 700_000);
  });

  it('a new engine (after a power cut) resumes from the persisted offset and re-hashes the kept part', async () => {
    const release = await runtimeRelease(key, {}, 2 * 1024 * 1024);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.dropAfter = 900_000;
    const bed = await engineBed(key, server.origin);
    const slow = bed.reopen({ downloadBackoff: { baseMs: 60_000, capMs: 60_000, minMs: 60_000 } });
    await slow.handleMessage(offerPayload(release.jws, server.url));
    await waitFor(() => (bed.jobs.active()?.offset ?? 0) > 0, { timeoutMs: 30_000, what: 'a persisted offset' });
    await slow.stop();
    const kept = bed.jobs.active()!.offset;
    // Garbage after the persisted offset (written but never synced before the cut) must be cut off.
    writeFileSync(bed.jobs.active()!.artifactPath!, Buffer.alloc(50, 1), { flag: 'a' });
    server.dropAfter = null;
    const fresh = bed.reopen();
    fresh.start();
    await waitFor(() => bed.states().at(-1) === 'restarting', { timeoutMs: 30_000, what: 'the install' });
    expect(server.ranges.at(-1)).toBe(`bytes=${kept}-`);
  });

  it('starts again from zero when the server answers a Range request with 200', async () => {
    const release = await runtimeRelease(key, {}, 1024 * 1024);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.dropAfter = 300_000;
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await waitFor(() => server.ranges.length >= 1 && (bed.jobs.active()?.offset ?? 0) > 0, {
      timeoutMs: 30_000,
      what: 'a first part',
    });
    server.dropAfter = null;
    server.ignoreRange = true;
    await bed.engine.settled();
    expect(bed.states().at(-1)).toBe('restarting');
    expect(readFileSync(join(bed.paths.release('2.0.0'), 'consystence-edge')).equals(release.binary)).toBe(true);
  });
});

describe('update engine: a site server that cannot be reached for a while', () => {
  it('keeps retrying past the old 8 attempts while the listener refuses, then resumes from its offset', async () => {
    const release = await runtimeRelease(key, {}, 2 * 1024 * 1024);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.dropAfter = 700_000;
    const bed = await engineBed(key, server.origin, { downloadBackoff: { baseMs: 20, capMs: 80, minMs: 20 } });
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await waitFor(() => (bed.jobs.active()?.offset ?? 0) > 0, { timeoutMs: 30_000, what: 'a persisted offset' });
    await server.refuse();
    await waitFor(() => (bed.jobs.active()?.downloadFailures ?? 0) > 10, {
      timeoutMs: 60_000,
      what: 'more failed attempts than the old limit of 8',
    });
    const waiting = bed.reports.filter((r) => r.state === 'downloading' && r.reason?.code === 'DOWNLOAD_RETRYING');
    expect(waiting.length).toBeGreaterThan(8);
    expect(waiting.at(-1)?.reason?.message).toMatch(/attempt \d+ at \d{4}-/);
    const kept = bed.jobs.active()!.offset;
    expect(kept).toBeGreaterThan(0);
    server.dropAfter = null;
    await server.accept();
    await waitFor(() => bed.states().at(-1) === 'restarting', { timeoutMs: 60_000, what: 'the install' });
    expect(server.ranges.at(-1)).toMatch(/^bytes=[1-9]\d*-$/);
    expect(Number(/\d+/.exec(server.ranges.at(-1)!)![0])).toBeGreaterThanOrEqual(kept);
    expect(readFileSync(join(bed.paths.release('2.0.0'), 'consystence-edge')).equals(release.binary)).toBe(true);
    expect(bed.jobs.latest()).toMatchObject({ reason: null, downloadRetryAt: null });
  });

  it('a restart in the wait keeps the persisted schedule; coming online tries at once', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.status = 503;
    const minute = { baseMs: 60_000, capMs: 60_000, minMs: 60_000 };
    const bed = await engineBed(key, server.origin, { downloadBackoff: minute });
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await waitFor(() => bed.jobs.active()?.downloadRetryAt != null, { timeoutMs: 30_000, what: 'a scheduled retry' });
    const scheduled = bed.jobs.active()!.downloadRetryAt;
    expect(bed.reports.at(-1)).toMatchObject({ state: 'downloading', reason: { code: 'DOWNLOAD_RETRYING' } });
    await bed.engine.stop();

    const restarted = bed.reopen();
    restarted.start();
    // Bounded look for a hammering restart: the schedule says a minute from the first failure.
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.ranges).toHaveLength(1);
    expect(bed.jobs.active()).toMatchObject({ state: 'downloading', downloadRetryAt: scheduled, downloadFailures: 1 });

    server.status = null;
    restarted.online();
    await restarted.settled();
    expect(server.ranges).toHaveLength(2);
    expect(bed.states().at(-1)).toBe('restarting');
  });

  it('gives up with DOWNLOAD_FAILED once the waits add up to update.downloadRetryHours', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.status = 503;
    const hour = { baseMs: 3_600_000, capMs: 3_600_000, minMs: 3_600_000 };
    const bed = await engineBed(key, server.origin, {
      downloadBackoff: hour,
      settings: () => ({ downloadRetryHours: 1 }),
    });
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await waitFor(() => bed.jobs.active()?.downloadRetryAt != null, { timeoutMs: 30_000, what: 'a scheduled retry' });
    bed.engine.online(); // the second attempt, at once; after it the hour of waiting is used up
    await bed.engine.settled();
    expect(server.ranges).toHaveLength(2);
    expect(bed.jobs.latest()).toMatchObject({ state: 'failed', reason: { code: 'DOWNLOAD_FAILED' } });
    expect(bed.jobs.latest()!.reason!.message).toMatch(/2 attempts over 1 h/);
    expect(existsSync(bed.jobs.latest()!.artifactPath!)).toBe(true);
  });

  it.each([401, 403, 404, 410])('a %i is final at once: no retry', async (status) => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.status = status;
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    expect(server.ranges).toHaveLength(1);
    expect(bed.jobs.latest()).toMatchObject({ state: 'failed', reason: { code: 'DOWNLOAD_FAILED' } });
  });
});

describe('update engine: offers and cancels', () => {
  it('a new offer of the same artifact continues the file an earlier job left; stale partials are removed', async () => {
    const release = await runtimeRelease(key, {}, 1024 * 1024);
    const server = await startArtifactServer(release.artifact, TOKEN);
    server.dropAfter = 300_000;
    const bed = await engineBed(key, server.origin, {
      downloadBackoff: { baseMs: 60_000, capMs: 60_000, minMs: 60_000 },
    });
    const first = randomUUID();
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { campaignId: first }));
    await waitFor(() => (bed.jobs.active()?.offset ?? 0) > 0, { timeoutMs: 30_000, what: 'a first part' });
    const cancel = { campaignId: first, cancelled: true, ts: new Date().toISOString() };
    await bed.engine.handleMessage(Buffer.from(JSON.stringify(cancel)));
    const kept = bed.jobs.latest()!.offset;
    writeFileSync(join(bed.paths.downloads, `${'b'.repeat(64)}.part`), 'left by an older release');
    server.dropAfter = null;
    const fresh = bed.reopen();
    await fresh.handleMessage(offerPayload(release.jws, server.url));
    await fresh.settled();
    expect(bed.states().at(-1)).toBe('restarting');
    expect(server.ranges.at(-1)).toBe(`bytes=${kept}-`);
    expect(readdirSync(bed.paths.downloads)).toEqual([]);
  });

  it('the same offer again is the same job', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    const campaignId = randomUUID();
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { campaignId }));
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { campaignId }));
    await bed.engine.settled();
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { campaignId }));
    expect(bed.stores.db.prepare<{ n: number }>('SELECT COUNT(*) AS n FROM update_jobs').get()?.n).toBe(1);
    expect(bed.restarts).toBe(1);
  });

  it('a cancel before the install cancels; a newer offer supersedes a job not yet installing', async () => {
    const release = await runtimeRelease(key, {}, 1024 * 1024);
    const newer = await runtimeRelease(key, { version: '3.0.0' });
    const server = await startArtifactServer(release.artifact, TOKEN);
    const server3 = await startArtifactServer(newer.artifact, TOKEN);
    server.dropAfter = 100_000;
    const bed = await engineBed(key, server.origin, {
      downloadBackoff: { baseMs: 60_000, capMs: 60_000, minMs: 60_000 },
    });
    const first = randomUUID();
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { campaignId: first }));
    await waitFor(() => server.ranges.length >= 1, { timeoutMs: 30_000, what: 'the download' });
    const cancel = { campaignId: first, cancelled: true, ts: new Date().toISOString() };
    await bed.engine.handleMessage(Buffer.from(JSON.stringify(cancel)));
    expect(bed.jobs.latest()).toMatchObject({ state: 'cancelled', reason: { code: 'CANCELLED' } });

    const second = randomUUID();
    await bed.engine.handleMessage(offerPayload(release.jws, server.url, { campaignId: second }));
    await waitFor(() => bed.jobs.latest()?.state === 'downloading', { timeoutMs: 30_000, what: 'the second download' });
    // (Served by another origin than the site server's, the newer job later fails its download: not checked here.)
    await bed.engine.handleMessage(offerPayload(newer.jws, server3.url, { campaignId: randomUUID() }));
    const states = bed.stores.db
      .prepare<{ version: string; state: string; reason_code: string | null }>(
        'SELECT version, state, reason_code FROM update_jobs ORDER BY id',
      )
      .all();
    expect(states.slice(0, 2)).toEqual([
      { version: '2.0.0', state: 'cancelled', reason_code: 'CANCELLED' },
      { version: '2.0.0', state: 'failed', reason_code: 'SUPERSEDED' },
    ]);
    expect(states[2]?.version).toBe('3.0.0');
  });
});

describe('update engine: across the restart', () => {
  it('the new version takes the job to trial, commits after the window online, and prunes', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    // A short window (the launcher reads the same record).
    writeFileSync(bed.paths.trial, readFileSync(bed.paths.trial, 'utf8').replace('window_s=30', 'window_s=0.2'));
    // The launcher counted this start; the count must not outlive the commit.
    writeFileSync(bed.paths.trialStarts, 'version=2.0.0\nstarts=1\n');
    const next = bed.reopen({ runningVersion: '2.0.0' });
    next.start();
    expect(bed.jobs.latest()?.state).toBe('trial');
    next.online();
    await waitFor(() => bed.jobs.latest()?.state === 'succeeded', { timeoutMs: 10_000, what: 'the commit' });
    expect(existsSync(bed.paths.trial)).toBe(false);
    expect(existsSync(bed.paths.lastTrial)).toBe(true);
    expect(existsSync(bed.paths.snapshot)).toBe(false);
    expect(existsSync(bed.paths.trialStarts)).toBe(false);
    expect(bed.reports.at(-1)).toMatchObject({ state: 'succeeded', runningVersion: '2.0.0' });
  });

  it('a disconnect in the trial pauses its clock: the online time already held still counts', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    writeFileSync(bed.paths.trial, readFileSync(bed.paths.trial, 'utf8').replace('window_s=30', 'window_s=20'));
    const clock: { leftS: number }[] = [];
    const logger = createLogger({
      level: 'debug',
      write: (line) => {
        const record = JSON.parse(line) as { event: string; leftS?: number };
        if (record.event === 'update_trial_clock') clock.push({ leftS: record.leftS! });
      },
    });
    const next = bed.reopen({ runningVersion: '2.0.0', logger });
    next.start();
    next.online();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    next.offline(); // the site server restarts
    await new Promise((resolve) => setTimeout(resolve, 500));
    next.online(); // back: about 18.5 s are left, not a whole window again
    expect(clock).toHaveLength(2);
    expect(clock[0]!.leftS).toBe(20);
    expect(clock[1]!.leftS).toBeLessThanOrEqual(18.5);
    expect(clock[1]!.leftS).toBeGreaterThan(0);
    expect(bed.jobs.latest()?.state).toBe('trial');
    await next.stop();
  });

  it('the old version, started after the launcher rolled back, reports rolled-back with the reason', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    writeFileSync(bed.paths.rollback, 'from=2.0.0\nto=factory\nreason=START_FAILED\nat_uptime=12\n');
    const old = bed.reopen();
    old.start();
    expect(bed.jobs.latest()).toMatchObject({ state: 'rolled-back', reason: { code: 'START_FAILED' } });
    expect(existsSync(bed.paths.rollback)).toBe(false);
    expect(bed.reports.at(-1)).toMatchObject({ state: 'rolled-back', runningVersion: '1.0.0' });
  });
});

describe('update engine: the launcher rolled back a release whose job had ended', () => {
  it('records a new rolled-back result (INVALID_TRIAL) and reports it; the succeeded job keeps its history', async () => {
    const release = await runtimeRelease(key);
    const server = await startArtifactServer(release.artifact, TOKEN);
    const bed = await engineBed(key, server.origin);
    await bed.engine.handleMessage(offerPayload(release.jws, server.url));
    await bed.engine.settled();
    const installed = bed.jobs.latest()!;
    bed.jobs.move(installed.id, 'trial');
    bed.jobs.move(installed.id, 'succeeded'); // committed earlier
    writeFileSync(bed.paths.rollback, 'from=2.0.0 to=1.0.0 reason=INVALID_TRIAL at_uptime=40\n');

    bed.reopen().start();
    expect(bed.jobs.get(installed.id)).toMatchObject({ state: 'succeeded', reason: null });
    const recorded = bed.jobs.latest()!;
    expect(recorded.id).not.toBe(installed.id);
    expect(recorded).toMatchObject({
      state: 'rolled-back',
      version: '2.0.0',
      campaignId: installed.campaignId,
      reason: { code: 'INVALID_TRIAL' },
    });
    expect(recorded.reason!.message).toContain('update/trial.invalid');
    expect(bed.reports.at(-1)).toMatchObject({
      state: 'rolled-back',
      version: '2.0.0',
      campaignId: installed.campaignId,
      reason: { code: 'INVALID_TRIAL' },
      runningVersion: '1.0.0',
    });
    expect(existsSync(bed.paths.rollback)).toBe(false);

    // A power cut between the row and the record's removal: the record is read again, and recorded once.
    writeFileSync(bed.paths.rollback, 'from=2.0.0 to=1.0.0 reason=INVALID_TRIAL at_uptime=40\n');
    bed.reopen().start();
    expect(bed.jobs.latest()!.id).toBe(recorded.id);
    expect(existsSync(bed.paths.rollback)).toBe(false);
  });

  it('records a rollback of a release it has no job for (installed before this database) by its version', async () => {
    const bed = await engineBed(key, 'http://127.0.0.1:9');
    mkdirSync(bed.paths.update, { recursive: true });
    writeFileSync(bed.paths.rollback, 'from=3.1.0 to=factory reason=INVALID_TRIAL at_uptime=40\n');
    bed.engine.start();
    expect(bed.jobs.latest()).toMatchObject({ state: 'rolled-back', version: '3.1.0', campaignId: null });
  });
});

describe('update engine: a disk that fills during the download', () => {
  const tmpfs = mountTmpfs('2m');
  it.skipIf(!tmpfs.dir)(
    `fails INSUFFICIENT_SPACE on ENOSPC and leaves no partial file behind${tmpfs.why ? ` (${tmpfs.why})` : ''}`,
    async () => {
      const release = await runtimeRelease(key, {}, 3 * 1024 * 1024);
      const server = await startArtifactServer(release.artifact, TOKEN);
      // statfs is told to say there is room, so the pre-check passes and the real file system runs out.
      const bed = await engineBed(key, server.origin, {}, tmpfs.dir);
      await bed.engine.handleMessage(offerPayload(release.jws, server.url));
      await bed.engine.settled();
      expect(bed.reports.at(-1)).toMatchObject({ state: 'failed', reason: { code: 'INSUFFICIENT_SPACE' } });
      expect(readdirSync(bed.paths.downloads)).toEqual([]);
      expect(existsSync(bed.paths.current)).toBe(false);
    },
  );
});
