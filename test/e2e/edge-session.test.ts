/**
 * The edge end to end, as on a device: a real mock cloud process, the mock site server, and the real
 * `consystence-edge` CLI as a child process, once under Node and once under Bun. Everything is asserted through
 * the site server's control API, as a rig would: pair by URI, run, presence online, data from the producer API
 * arriving with its seq, config push and command round trips, a CONNACK refusal refreshed with the device key,
 * store-and-forward across a listener outage (replayed as historical), SIGKILL → LWT, restart without pairing,
 * proactive token refresh without a reconnect, and, with the cloud gone, a restarted edge still online.
 *
 * Each test sets up its own edge (own site server, own state directory) with `onlineEdge`, so one failure does
 * not hide the others and any test runs alone with `-t`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PAIRING_URI_ENV } from '../../src/edge/cli/secret-input.js';
import type { Child, Runtime } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';
import { DEMO_ORG_ID, startCloudProcess, type CloudProcess } from './support/cloud.js';
import { testEdge, type TestEdge } from './support/edge.js';
import type { EdgeSummary } from './support/site.js';

const TOKEN_TTL = ['--edge-token-ttl', '60'];
/** A lifetime whose proactive refresh (at 80 %) comes within seconds; under the cloud's minimum, so test-only. */
const SHORT_TOKEN_TTL = ['--test-min-edge-token-ttl', '10', '--edge-token-ttl', '10'];

interface OnlineEdge extends TestEdge {
  child: Child;
  producerUrl: string;
  online: EdgeSummary;
}

describe.each(['node', 'bun'] as Runtime[])('edge session under %s', (runtime) => {
  let cloud: CloudProcess;
  /** Every edge and extra cloud a test started, killed after it. */
  const started: Child[] = [];

  beforeAll(async () => {
    cloud = await startCloudProcess(TOKEN_TTL);
  });
  afterEach(async () => {
    for (const child of started.splice(0)) await child.kill('SIGKILL');
  });
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  async function ownCloud(args: string[]): Promise<CloudProcess> {
    const own = await startCloudProcess(args);
    started.push(own.child);
    return own;
  }

  /** Starts `run` with the producer API on a free port and waits until the site server shows it online. */
  async function run(edge: TestEdge): Promise<OnlineEdge> {
    const child = edge.run([], { producerPort: '0' });
    started.push(child);
    const line = await child.waitForLine((l) => l.event === 'started', 30_000);
    const online = await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online');
    return { ...edge, child, producerUrl: String(line.producer), online };
  }

  /** A new edge with its own site server and state directory: paired, running and online. */
  async function onlineEdge(label: string, from = cloud): Promise<OnlineEdge> {
    const edge = await testEdge(from, runtime, label);
    const paired = await edge.pair();
    expect(paired.code, paired.stderr).toBe(0);
    return run(edge);
  }

  async function produce(edge: OnlineEdge, values: number[], channel = 'telemetry') {
    const response = await fetch(`${edge.producerUrl}/v1/${channel}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        records: values.map((value) => ({ tag: 'pump.rpm', ts: new Date().toISOString(), value })),
      }),
    });
    expect(response.status).toBe(202);
    return (await response.json()) as { seq: number; lastSeq: number };
  }

  /** Pushes a 5 s heartbeat and 1 s system metrics and waits until the edge reports them applied. */
  async function pushConfig(edge: OnlineEdge): Promise<void> {
    const pushed = await edge.site.api('POST', `/edges/${edge.edgeId}/config`, {
      config: { heartbeatSeconds: 5, metricsSeconds: 1 },
      wait: true,
      timeoutMs: 15_000,
    });
    expect(pushed.status).toBe(200);
    expect(pushed.body.reported).toMatchObject({ status: 'applied' });
  }

  const presence = (edge: OnlineEdge) => edge.site.edge(edge.edgeId).then((e) => e?.presence);

  it('pairs from a pairing URI, showing each step', async () => {
    const edge = await testEdge(cloud, runtime, 'pair');
    const { pairingUri } = await cloud.admin.createPairingCode(DEMO_ORG_ID, edge.siteId, {});
    const result = await edge.cli(['pair', '--edge-id', edge.edgeId, '--json'], [], { [PAIRING_URI_ENV]: pairingUri });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const oks = lines.filter((l) => l.status === 'ok').map((l) => l.step);
    expect(oks).toEqual(['clock', 'reach', 'register', 'verify', 'save', 'connect']);
    expect(lines.at(-1)).toMatchObject({ paired: true, edgeId: edge.edgeId, siteId: edge.siteId });
    // The pairing code never reaches output or logs.
    const code = new URL(pairingUri).searchParams.get('code')!;
    expect(result.stdout + result.stderr).not.toContain(code);
  });

  it('runs: online at the site server, producer data arrives with its seq, config applied, heartbeats carry the queue', async () => {
    const edge = await onlineEdge('runs');
    const { site, edgeId } = edge;
    expect(edge.online.presence.bootId).toEqual(expect.any(String));

    const { seq } = await produce(edge, [1, 2, 3]);
    await waitFor(async () => (await site.envelopes(edgeId)).find((e) => e.seq === seq), {
      what: `seq ${seq} at the site server`,
    });
    const [received] = (await site.envelopes(edgeId)).filter((e) => e.seq === seq);
    expect(received).toMatchObject({
      channel: 'telemetry',
      historical: false,
      records: [{ value: 1 }, { value: 2 }, { value: 3 }],
    });
    const event = await produce(edge, [7], 'events');
    await waitFor(
      async () => (await site.envelopes(edgeId)).find((e) => e.seq === event.seq && e.channel === 'events'),
      { what: 'the event' },
    );

    await pushConfig(edge);
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
    const { site, edgeId } = await onlineEdge('commands');
    const ping = await site.api('POST', `/edges/${edgeId}/commands`, { name: 'ping', timeoutMs: 15_000 });
    expect(ping.status).toBe(200);
    expect(ping.body.result).toMatchObject({ id: ping.body.id, ok: true, result: { pong: true } });
    const unknown = await site.api('POST', `/edges/${edgeId}/commands`, { name: 'self-destruct', timeoutMs: 15_000 });
    expect(unknown.body.result).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
  });

  it('refreshes its token when the site server refuses it, and reconnects', async () => {
    const edge = await onlineEdge('refused');
    const { site, edgeId } = edge;
    const refreshes = () =>
      edge.child.stderr.filter((l) => l.includes('"token_refreshed"') && l.includes('connack-refused')).length;
    const before = refreshes();
    const since = (await presence(edge))!.since;
    expect((await site.api('POST', '/faults/refuse-connects', { count: 1, returnCode: 5 })).status).toBe(200);
    expect((await site.api('POST', '/faults/drop', { edgeId })).status).toBe(200);
    await waitFor(() => refreshes() > before, { timeoutMs: 30_000, what: 'a refresh after the refusal' });
    await site.waitForPresence(edgeId, (p) => p.state === 'online' && p.since !== since);
  });

  it('buffers while the site server is unreachable and replays as historical, in order, without gaps', async () => {
    const edge = await onlineEdge('buffers');
    const { site, edgeId } = edge;
    expect((await site.api('POST', '/faults/listener', { action: 'stop' })).status).toBe(200);
    await site.api('POST', '/faults/drop', {});
    await waitFor(() => edge.child.lines.some((l) => l.event === 'state' && l.state === 'offline'), {
      what: 'the edge offline',
    });
    const acked = [await produce(edge, [10]), await produce(edge, [11]), await produce(edge, [12])];
    expect(((await edge.status()) as { queue: { depth: number } }).queue.depth).toBeGreaterThanOrEqual(3);
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
    const first = await onlineEdge('sigkill');
    const { site, edgeId } = first;
    await pushConfig(first);
    await first.child.kill('SIGKILL');
    await site.waitForPresence(edgeId, (p) => p.state === 'offline' && p.reason === 'lost', 90_000);
    const restarted = await run(first);
    expect(restarted.child.lines.some((l) => l.event === 'pairing_from_file')).toBe(false);
    // The applied config survived the restart: a heartbeat within its 5 s.
    const last = (await site.edge(edgeId))!.counters.received;
    await waitFor(async () => (await site.edge(edgeId))!.counters.received > last, {
      timeoutMs: 15_000,
      what: 'traffic after the restart',
    });
  });

  it('refreshes a short-lived token before it expires without dropping the session', async () => {
    const edge = await onlineEdge('proactive', await ownCloud(SHORT_TOKEN_TTL));
    const since = (await presence(edge))!.since;
    await waitFor(() => edge.child.stderr.some((l) => l.includes('"token_refreshed"') && l.includes('"proactive"')), {
      timeoutMs: 80_000,
      intervalMs: 250,
      what: 'a proactive token refresh',
    });
    expect(await presence(edge)).toMatchObject({ state: 'online', since }); // no reconnect was needed
    expect(await edge.status()).toMatchObject({
      state: 'online',
      edgeId: edge.edgeId,
      siteId: edge.siteId,
      tokenExpired: false,
    });
  }, 100_000);

  it('with the cloud gone, SIGTERM says shutdown and a restarted edge still reaches the site server', async () => {
    const doomed = await ownCloud(TOKEN_TTL);
    const first = await onlineEdge('cloud-gone', doomed);
    const { site, edgeId } = first;
    await doomed.child.kill('SIGKILL');
    await first.child.kill('SIGTERM');
    expect((await first.child.exited).code).toBe(0);
    await site.waitForPresence(edgeId, (p) => p.state === 'offline' && p.reason === 'shutdown', 10_000);
    await run(first);
    const status = await first.cli(['status', '--json']);
    expect(status.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT in status output
    expect(JSON.parse(status.stdout)).toMatchObject({ queue: { dropped: 0 } });
  });
});
