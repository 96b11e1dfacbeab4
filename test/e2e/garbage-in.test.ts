/**
 * Garbage from the site server (issue 3, "Bad input"): malformed, mistyped, oversized and expired messages on the
 * real edge's `P/config` and `P/cmd`, published raw through the mock site server's control API. Each is answered
 * with a rejection (`config/reported` rejected, `cmd/result` BAD_COMMAND or EXPIRED); the process never crashes and
 * the running config is kept, so a valid push and a ping still work afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES } from '../../src/protocol/index.js';
import type { Child } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';
import { testEdge, type TestEdge } from './support/edge.js';
import { startCloudProcess, type CloudProcess } from './support/cloud.js';

interface Reported {
  version: number;
  status: 'applied' | 'rejected';
  error?: string;
}
interface CmdResult {
  id: string;
  ok: boolean;
  error?: { code: string; message: string };
}

describe('garbage on the edge config and command topics', () => {
  let cloud: CloudProcess;
  let edge: TestEdge;
  let child: Child;

  beforeAll(async () => {
    cloud = await startCloudProcess();
    // The site server's own limit is above the edge's, so an oversized config reaches the edge's check.
    edge = await testEdge(cloud, 'node', 'garbage', { maxPayloadBytes: 2 * MAX_PAYLOAD_BYTES });
    const paired = await edge.pair();
    expect(paired.code, paired.stderr).toBe(0);
    child = edge.run();
    await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online', 30_000);
    const pushed = await edge.site.api('POST', `/edges/${edge.edgeId}/config`, {
      config: { heartbeatSeconds: 30 },
      wait: true,
    });
    expect(pushed.body.reported).toMatchObject({ status: 'applied' });
  }, 90_000);

  afterAll(async () => {
    await child?.kill('SIGKILL');
    await cloud?.child.kill('SIGKILL');
  });

  const raw = (channel: 'config' | 'cmd', payload: string, padToBytes?: number) =>
    edge.site.api('POST', `/edges/${edge.edgeId}/raw`, { channel, payload, ...(padToBytes ? { padToBytes } : {}) });

  async function messages<T>(channel: string): Promise<T[]> {
    const answer = await edge.site.api(
      'GET',
      `/edges/${edge.edgeId}/messages?channel=${encodeURIComponent(channel)}&limit=1000`,
    );
    return (answer.body.data as Array<{ payload: T }>).map((m) => m.payload).filter(Boolean);
  }

  /** Publishes a bad config and returns the rejection the edge reports for it. */
  async function rejectionOf(payload: string, padToBytes?: number): Promise<Reported> {
    const before = (await messages<Reported>('config/reported')).length;
    expect((await raw('config', payload, padToBytes)).status).toBe(202);
    return waitFor(
      async () => {
        const reports = await messages<Reported>('config/reported');
        return reports.length > before ? reports.at(-1)! : null;
      },
      { what: 'a config/reported answer' },
    );
  }

  // A rejection names the version it rejects when that can be read, so the server can tell which push failed;
  // otherwise it names the running config's version (1, the push in beforeAll).
  it.each([
    ['not JSON', '{"version": 5, "config":', 1],
    ['the wrong types', JSON.stringify({ version: 'five', config: { heartbeatSeconds: 'often' } }), 1],
    ['an unknown key', JSON.stringify({ version: 6, config: { rebootEveryHour: true } }), 6],
    ['a value out of range', JSON.stringify({ version: 7, config: { heartbeatSeconds: 1 } }), 7],
    ['a JSON array', '[1,2,3]', 1],
  ])('rejects a config with %s and keeps the running one', async (_what, payload, named) => {
    const report = await rejectionOf(payload);
    expect(report.status).toBe('rejected');
    expect(report.error).toBeTruthy();
    expect(report.version).toBe(named);
    expect((await edge.status()).configVersion).toBe(1);
  });

  it('rejects a config larger than the payload cap without parsing it', async () => {
    const report = await rejectionOf(
      JSON.stringify({ version: 8, config: { heartbeatSeconds: 10 } }),
      MAX_PAYLOAD_BYTES + 1,
    );
    expect(report).toMatchObject({ status: 'rejected', version: 1 });
    expect(report.error).toMatch(/exceeds/);
    expect((await edge.status()).configVersion).toBe(1);
  });

  it('answers malformed and expired commands, and stays alive', async () => {
    const results = () => messages<CmdResult>('cmd/result');
    await raw('cmd', 'this is not json');
    await raw('cmd', JSON.stringify({ id: 'no-name' }));
    await raw('cmd', JSON.stringify({ id: 'late', name: 'ping', expiresAt: '2001-01-01T00:00:00Z' }));
    await raw('cmd', JSON.stringify({ id: 'bad-args', name: 'ping', args: 'not an object' }));
    const answered = await waitFor(
      async () => {
        const all = await results();
        return all.length >= 4 ? all : null;
      },
      { what: 'four cmd/result answers' },
    );
    const byId = new Map(answered.map((r) => [r.id, r]));
    expect(byId.get('no-name')?.error?.code).toBe('BAD_COMMAND');
    expect(byId.get('late')?.error?.code).toBe('EXPIRED');
    expect(byId.get('bad-args')?.error?.code).toBe('BAD_COMMAND');
    expect(byId.get('')?.error?.code).toBe('BAD_COMMAND'); // no id could be read from the non-JSON one

    // Still the same process, still serving: a valid push applies and a ping is answered.
    expect(child.proc.exitCode).toBeNull();
    const pushed = await edge.site.api('POST', `/edges/${edge.edgeId}/config`, {
      config: { heartbeatSeconds: 20 },
      wait: true,
    });
    expect(pushed.body.reported).toMatchObject({ status: 'applied' });
    const ping = await edge.site.api('POST', `/edges/${edge.edgeId}/commands`, { name: 'ping' });
    expect(ping.body.result).toMatchObject({ ok: true });
  });
});
