/**
 * The edge end to end, as on a device: a real mock cloud process, a token-checking broker, and the real
 * `consystence-edge` CLI as a child process, once under Node and once under Bun. Pair by URI, run, see the
 * retained online status, heartbeats, config and commands; SIGKILL → LWT; restart without pairing; a CONNACK
 * refusal refreshed with the device key; a short-lived token refreshed proactively without a reconnect; and,
 * with the cloud gone, a restarted edge still reaches the site server.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandFor, runToEnd, startEntry, type Child, type Runtime } from '../helpers/process.js';
import { tempDir, testHardwareId } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { createSite, DEMO_ORG_ID, pointSiteAt, startCloudProcess, type CloudProcess } from './support/cloud.js';
import { Observer } from './support/observer.js';
import { startTokenBroker, type TokenBroker } from './support/token-broker.js';

const EDGE = 'src/edge/main.ts';

describe.each(['node', 'bun'] as Runtime[])('edge session under %s', (runtime) => {
  let cloud: CloudProcess;
  let broker: TokenBroker;
  let observer: Observer;
  let siteId: string;
  let edge: Child | null = null;
  const stateDir = tempDir('cst-e2e-');
  const hardwareId = testHardwareId(runtime);
  const edgeId = `orin-${runtime}-01`;
  const base = ['--state-dir', stateDir, '--hardware-id', hardwareId, '--log-level', 'debug'];
  const startEdge = () => startEntry(runtime, EDGE, ['run', '--json', ...base, '--pairing-uri-file', join(stateDir, 'no-such-file')]);
  const acceptedConnects = () => broker.connects.filter((c) => c.clientId === edgeId && c.accepted);

  beforeAll(async () => {
    cloud = await startCloudProcess(['--edge-token-ttl', '60']);
    siteId = await createSite(cloud.admin, runtime);
    broker = await startTokenBroker({ cloudUrl: cloud.url, siteId, jwks: (await cloud.admin.jwks()) as never });
    await pointSiteAt(cloud.admin, siteId, broker.url);
    observer = await Observer.connect(broker.port, `consystence/v1/sites/${siteId}/edges/${edgeId}`);
  });

  afterAll(async () => {
    await edge?.kill('SIGKILL');
    await observer?.close();
    await broker?.close();
    await cloud?.child.kill('SIGKILL');
  });

  it('pairs from a pairing URI, showing each step', async () => {
    const { pairingUri } = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, {});
    const { command, args } = commandFor(runtime, EDGE);
    const result = await runToEnd(command, [...args, 'pair', '--uri', pairingUri, '--edge-id', edgeId, '--json', ...base]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const oks = lines.filter((l) => l.status === 'ok').map((l) => l.step);
    expect(oks).toEqual(['clock', 'reach', 'register', 'verify', 'save', 'connect']);
    expect(lines.at(-1)).toMatchObject({ paired: true, edgeId, siteId });
    // The pairing code never reaches output or logs.
    const code = new URL(pairingUri).searchParams.get('code')!;
    expect(result.stdout + result.stderr).not.toContain(code);
  });

  it('runs: retained online status, config applied and reported, heartbeats', async () => {
    edge = startEdge();
    const online = await observer.waitFor('status', (j) => j.state === 'online', { timeoutMs: 30_000 });
    expect(online.json).toMatchObject({ state: 'online', version: expect.any(String), bootId: expect.any(String) });

    const mark = observer.mark();
    await observer.publish('config', { version: 1, config: { heartbeatSeconds: 5 } }, { retain: true });
    await observer.waitFor('config/reported', (j) => j.version === 1 && j.status === 'applied', { since: mark });
    await observer.waitFor('heartbeat', (j) => typeof j.uptimeS === 'number' && typeof j.queue === 'object', { since: mark, timeoutMs: 15_000 });

    const bad = observer.mark();
    await observer.publish('config', '{"version": 2, "config": {"heartbeatSeconds": 1}}');
    await observer.waitFor('config/reported', (j) => j.version === 2 && j.status === 'rejected' && typeof j.error === 'string', { since: bad });
  });

  it('answers commands, replays a repeated id, refuses unknown and malformed ones', async () => {
    const mark = observer.mark();
    await observer.publish('cmd', { id: 'c-1', name: 'ping' });
    const first = await observer.waitFor('cmd/result', (j) => j.id === 'c-1', { since: mark });
    expect(first.json).toMatchObject({ id: 'c-1', ok: true, result: { pong: true } });
    const again = observer.mark();
    await observer.publish('cmd', { id: 'c-1', name: 'ping' });
    const replay = await observer.waitFor('cmd/result', (j) => j.id === 'c-1', { since: again });
    expect(replay.json).toEqual(first.json);
    await observer.publish('cmd', { id: 'c-2', name: 'self-destruct' });
    await observer.waitFor('cmd/result', (j) => j.id === 'c-2' && (j.error as { code?: string })?.code === 'UNKNOWN_COMMAND', { since: mark });
    await observer.publish('cmd', '{"id":"c-3","name":');
    await observer.publish('cmd', { id: 'c-4', name: 42 });
    await observer.waitFor('cmd/result', (j) => j.id === 'c-4' && (j.error as { code?: string })?.code === 'BAD_COMMAND', { since: mark });
  });

  it('refreshes its token when the broker refuses it, and reconnects', async () => {
    const accepted = acceptedConnects();
    const current = accepted.at(-1)!.jti!;
    broker.bannedJtis.add(current);
    const mark = observer.mark();
    expect(broker.kick(edgeId)).toBe(true);
    await waitFor(() => broker.connects.some((c) => c.clientId === edgeId && !c.accepted && c.jti === current), { timeoutMs: 15_000, what: 'a refused CONNECT with the banned token' });
    await waitFor(() => acceptedConnects().length > accepted.length && acceptedConnects().at(-1)!.jti !== current, { timeoutMs: 30_000, what: 'a CONNECT with a refreshed token' });
    await observer.waitFor('status', (j) => j.state === 'online', { since: mark });
  });

  it('SIGKILL leaves the retained offline will; a restart comes back online without pairing', async () => {
    const mark = observer.mark();
    await edge!.kill('SIGKILL');
    await observer.waitFor('status', (j) => j.state === 'offline' && j.reason === 'lost', { since: mark, timeoutMs: 90_000 });
    const before = observer.mark();
    edge = startEdge();
    const online = await observer.waitFor('status', (j) => j.state === 'online', { since: before, timeoutMs: 30_000 });
    expect(online.retain).toBe(false); // live delivery of a retained publish
    expect(edge.lines.some((l) => l.event === 'pairing_from_file')).toBe(false);
    // The applied config survived the restart: heartbeat every 5 s.
    await observer.waitFor('heartbeat', () => true, { since: before, timeoutMs: 15_000 });
  });

  it('refreshes a short-lived token before it expires without dropping the session', async () => {
    const connectsBefore = broker.connects.length;
    await waitFor(() => edge!.stderr.some((l) => l.includes('"token_refreshed"') && l.includes('"proactive"')), { timeoutMs: 80_000, intervalMs: 250, what: 'a proactive token refresh' });
    expect(broker.connects.length).toBe(connectsBefore); // no reconnect was needed
    const status = await runToEnd(...statusCommand());
    const report = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({ state: 'online', edgeId, siteId, tokenExpired: false });
  }, 100_000);

  it('with the cloud gone, a restarted edge still reaches the site server; SIGTERM says shutdown', async () => {
    await cloud.child.kill('SIGKILL');
    let mark = observer.mark();
    await edge!.kill('SIGTERM');
    await observer.waitFor('status', (j) => j.state === 'offline' && j.reason === 'shutdown', { since: mark });
    expect((await edge!.exited).code).toBe(0);
    mark = observer.mark();
    edge = startEdge();
    await observer.waitFor('status', (j) => j.state === 'online', { since: mark, timeoutMs: 30_000 });
    const status = await runToEnd(...statusCommand());
    expect(status.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT in status output
  });

  function statusCommand(): [string, string[]] {
    const { command, args } = commandFor(runtime, EDGE);
    return [command, [...args, 'status', '--json', ...base]];
  }
});
