/**
 * The edge end to end, as on a device: a real mock cloud process, the mock site server, and the real
 * `consystence-edge` CLI as a child process, once under Node and once under Bun. Everything is asserted through
 * the site server's control API, as a rig would: pair by URI, run, presence online, data from the producer API
 * arriving with its seq, config push and command round trips, a CONNACK refusal refreshed with the device key,
 * store-and-forward across a listener outage (replayed as historical), SIGKILL → LWT, restart without pairing,
 * proactive token refresh without a reconnect, and, with the cloud gone, a restarted edge still online.
 */
import { PAIRING_URI_ENV } from '../../src/edge/cli/secret-input.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandFor, runToEnd, startEntry, type Child, type Runtime } from '../helpers/process.js';
import { tempDir, testHardwareId } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { createSite, DEMO_ORG_ID, startCloudProcess, type CloudProcess } from './support/cloud.js';
import { startSite, type Site } from './support/site.js';

const EDGE = 'src/edge/main.ts';

describe.each(['node', 'bun'] as Runtime[])('edge session under %s', (runtime) => {
  let cloud: CloudProcess;
  let site: Site;
  let siteId: string;
  let edge: Child | null = null;
  let producerUrl = '';
  const stateDir = tempDir('cst-e2e-');
  const hardwareId = testHardwareId(runtime);
  const edgeId = `orin-${runtime}-01`;
  const base = ['--state-dir', stateDir, '--hardware-id', hardwareId, '--log-level', 'debug'];
  const startEdge = async () => {
    const child = startEntry(runtime, EDGE, [
      'run',
      '--json',
      ...base,
      '--producer-port',
      '0',
      '--pairing-uri-file',
      join(stateDir, 'no-such-file'),
    ]);
    const started = await child.waitForLine((l) => l.event === 'started', 30_000);
    producerUrl = String(started.producer);
    return child;
  };
  const produce = async (values: number[], channel = 'telemetry') => {
    const response = await fetch(`${producerUrl}/v1/${channel}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        records: values.map((value) => ({ tag: 'pump.rpm', ts: new Date().toISOString(), value })),
      }),
    });
    expect(response.status).toBe(202);
    return (await response.json()) as { seq: number; lastSeq: number };
  };
  const presence = () => site.edge(edgeId).then((e) => e?.presence);

  beforeAll(async () => {
    cloud = await startCloudProcess(['--edge-token-ttl', '60']);
    siteId = await createSite(cloud.admin, runtime);
    site = await startSite(cloud, siteId);
  });

  afterAll(async () => {
    await edge?.kill('SIGKILL');
    await cloud?.child.kill('SIGKILL');
  });

  it('pairs from a pairing URI, showing each step', async () => {
    const { pairingUri } = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, {});
    const { command, args } = commandFor(runtime, EDGE);
    const result = await runToEnd(command, [...args, 'pair', '--edge-id', edgeId, '--json', ...base], {
      env: { [PAIRING_URI_ENV]: pairingUri },
    });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const oks = lines.filter((l) => l.status === 'ok').map((l) => l.step);
    expect(oks).toEqual(['clock', 'reach', 'register', 'verify', 'save', 'connect']);
    expect(lines.at(-1)).toMatchObject({ paired: true, edgeId, siteId });
    // The pairing code never reaches output or logs.
    const code = new URL(pairingUri).searchParams.get('code')!;
    expect(result.stdout + result.stderr).not.toContain(code);
  });

  it('runs: online at the site server, producer data arrives with its seq, config applied, heartbeats carry the queue', async () => {
    edge = await startEdge();
    const online = await site.waitForPresence(edgeId, (p) => p.state === 'online');
    expect(online.presence.bootId).toEqual(expect.any(String));

    const { seq } = await produce([1, 2, 3]);
    await waitFor(async () => (await site.envelopes(edgeId)).find((e) => e.seq === seq), {
      what: `seq ${seq} at the site server`,
    });
    const [received] = (await site.envelopes(edgeId)).filter((e) => e.seq === seq);
    expect(received).toMatchObject({
      channel: 'telemetry',
      historical: false,
      records: [{ value: 1 }, { value: 2 }, { value: 3 }],
    });
    const event = await produce([7], 'events');
    await waitFor(
      async () => (await site.envelopes(edgeId)).find((e) => e.seq === event.seq && e.channel === 'events'),
      { what: 'the event' },
    );

    const pushed = await site.api('POST', `/edges/${edgeId}/config`, {
      config: { heartbeatSeconds: 5, metricsSeconds: 1 },
      wait: true,
      timeoutMs: 15_000,
    });
    expect(pushed.status).toBe(200);
    expect(pushed.body.reported).toMatchObject({ status: 'applied' });
    // metricsSeconds 1: the built-in system metrics flow without any producer.
    await waitFor(
      async () => (await site.envelopes(edgeId)).some((e) => e.records.some((r) => r.tag === 'system.uptime_s')),
      { timeoutMs: 15_000, what: 'system metrics' },
    );
    const beat = await waitFor(async () => (await site.edge(edgeId))?.lastHeartbeat, {
      timeoutMs: 15_000,
      what: 'a heartbeat',
    });
    expect(beat.queue).toMatchObject({ depth: expect.any(Number), dropped: 0 });
  });

  it('answers commands through the control API; unknown ones are refused', async () => {
    const ping = await site.api('POST', `/edges/${edgeId}/commands`, { name: 'ping', timeoutMs: 15_000 });
    expect(ping.status).toBe(200);
    expect(ping.body.result).toMatchObject({ id: ping.body.id, ok: true, result: { pong: true } });
    const unknown = await site.api('POST', `/edges/${edgeId}/commands`, { name: 'self-destruct', timeoutMs: 15_000 });
    expect(unknown.body.result).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
  });

  it('refreshes its token when the site server refuses it, and reconnects', async () => {
    const refreshes = () =>
      edge!.stderr.filter((l) => l.includes('"token_refreshed"') && l.includes('connack-refused')).length;
    const before = refreshes();
    const since = (await presence())!.since;
    expect((await site.api('POST', '/faults/refuse-connects', { count: 1, returnCode: 5 })).status).toBe(200);
    expect((await site.api('POST', '/faults/drop', { edgeId })).status).toBe(200);
    await waitFor(() => refreshes() > before, { timeoutMs: 30_000, what: 'a refresh after the refusal' });
    await site.waitForPresence(edgeId, (p) => p.state === 'online' && p.since !== since);
  });

  it('buffers while the site server is unreachable and replays as historical, in order, without gaps', async () => {
    expect((await site.api('POST', '/faults/listener', { action: 'stop' })).status).toBe(200);
    await site.api('POST', '/faults/drop', {});
    await waitFor(() => edge!.lines.some((l) => l.event === 'state' && l.state === 'offline'), {
      what: 'the edge offline',
    });
    const acked = [await produce([10]), await produce([11]), await produce([12])];
    const status = await runToEnd(...statusCommand());
    expect((JSON.parse(status.stdout) as { queue: { depth: number } }).queue.depth).toBeGreaterThanOrEqual(3);
    expect((await site.api('DELETE', '/faults')).status).toBe(200);
    await waitFor(
      async () => {
        const seen = await site.envelopes(edgeId);
        return acked.every((a) => seen.some((e) => e.seq === a.seq && e.historical));
      },
      { timeoutMs: 30_000, what: 'the buffered seqs, replayed as historical' },
    );
    const gaps = await site.api('GET', `/edges/${edgeId}/gaps`);
    expect(gaps.body.missing).toBe(0);
  });

  it('SIGKILL leaves the retained offline will; a restart comes back online without pairing', async () => {
    await edge!.kill('SIGKILL');
    await site.waitForPresence(edgeId, (p) => p.state === 'offline' && p.reason === 'lost', 90_000);
    edge = await startEdge();
    await site.waitForPresence(edgeId, (p) => p.state === 'online');
    expect(edge.lines.some((l) => l.event === 'pairing_from_file')).toBe(false);
    // The applied config survived the restart: a heartbeat within its 5 s.
    const last = (await site.edge(edgeId))!.counters.received;
    await waitFor(async () => (await site.edge(edgeId))!.counters.received > last, {
      timeoutMs: 15_000,
      what: 'traffic after the restart',
    });
  });

  it('refreshes a short-lived token before it expires without dropping the session', async () => {
    const since = (await presence())!.since;
    await waitFor(() => edge!.stderr.some((l) => l.includes('"token_refreshed"') && l.includes('"proactive"')), {
      timeoutMs: 80_000,
      intervalMs: 250,
      what: 'a proactive token refresh',
    });
    expect(await presence()).toMatchObject({ state: 'online', since }); // no reconnect was needed
    const status = await runToEnd(...statusCommand());
    const report = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ state: 'online', edgeId, siteId, tokenExpired: false });
  }, 100_000);

  it('with the cloud gone, SIGTERM says shutdown and a restarted edge still reaches the site server', async () => {
    await cloud.child.kill('SIGKILL');
    await edge!.kill('SIGTERM');
    expect((await edge!.exited).code).toBe(0);
    await site.waitForPresence(edgeId, (p) => p.state === 'offline' && p.reason === 'shutdown', 10_000);
    edge = await startEdge();
    await site.waitForPresence(edgeId, (p) => p.state === 'online');
    const status = await runToEnd(...statusCommand());
    expect(status.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT in status output
    expect(JSON.parse(status.stdout)).toMatchObject({ queue: { dropped: 0 } });
  });

  function statusCommand(): [string, string[]] {
    const { command, args } = commandFor(runtime, EDGE);
    return [command, [...args, 'status', '--json', ...base]];
  }
});
