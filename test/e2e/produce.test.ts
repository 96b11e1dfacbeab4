/**
 * `consystence-edge produce` against a real running edge (paired with the mock cloud process, online at the mock
 * site server): a test value and a `--count` load arrive at the site server with the seqs `produce` printed; a
 * JSON array on stdin goes to the events channel; with nothing listening it exits 9 with the fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/hil/bed/ports.js';
import { waitFor } from '../helpers/wait.js';
import { startCloudProcess, type CloudProcess } from './support/cloud.js';
import { testEdge, type TestEdge } from './support/edge.js';

describe('consystence-edge produce', () => {
  let cloud: CloudProcess;
  let edge: TestEdge;
  let port: string;
  beforeAll(async () => {
    cloud = await startCloudProcess();
    edge = await testEdge(cloud, 'node', 'produce');
    const paired = await edge.pair();
    expect(paired.code, paired.stderr).toBe(0);
    const child = edge.run([], { producerPort: '0' });
    const started = await child.waitForLine((l) => l.event === 'started', 30_000);
    port = new URL(String(started.producer)).port;
    await edge.site.waitForPresence(edge.edgeId, (p) => p.state === 'online', 30_000);
  }, 90_000);
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  const arrived = async (seq: number, lastSeq: number) =>
    waitFor(
      async () => {
        const seen = (await edge.site.envelopes(edge.edgeId)).filter((e) => e.seq >= seq && e.seq <= lastSeq);
        return new Set(seen.map((e) => e.seq)).size === lastSeq - seq + 1 ? seen : null;
      },
      { timeoutMs: 30_000, what: `seqs ${seq}..${lastSeq} at the site server` },
    );

  it('a test value arrives at the site server with the seq it printed', async () => {
    const result = await edge.cli([
      'produce',
      '--tag',
      'test.value',
      '--value',
      '42.5',
      '--quality',
      'good',
      '--producer-port',
      port,
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const answer = JSON.parse(result.stdout) as { seq: number; lastSeq: number; records: number };
    expect(answer).toMatchObject({ seq: expect.any(Number), lastSeq: answer.seq, records: 1 });
    const [envelope] = await arrived(answer.seq, answer.lastSeq);
    expect(envelope).toMatchObject({ channel: 'telemetry', records: [{ tag: 'test.value', value: 42.5 }] });
  }, 60_000);

  it('--count sends N records counting up, in requests of --batch; --records - goes to events', async () => {
    const load = await edge.cli([
      'produce',
      '--tag',
      'load',
      '--value',
      '0',
      '--count',
      '1200',
      '--batch',
      '500',
      '--durable',
      '--producer-port',
      port,
      '--json',
    ]);
    expect(load.code, load.stderr).toBe(0);
    const answer = JSON.parse(load.stdout) as { seq: number; lastSeq: number; requests: number };
    expect(answer.requests).toBe(3);
    const values = (await arrived(answer.seq, answer.lastSeq)).flatMap((e) => e.records.map((r) => r.value));
    expect(new Set(values)).toEqual(new Set(Array.from({ length: 1200 }, (_, i) => i)));

    // stdin through a shell pipe, as a rig's command template would feed it (the JSON holds no single quote).
    const records = JSON.stringify([{ tag: 'door.open', ts: new Date().toISOString(), value: true }]);
    const piped = await edge.cli(
      ['produce', '--channel', 'events', '--records', '-', '--producer-port', port, '--json'],
      ['sh', '-c', `printf '%s' '${records}' | "$@"`, 'sh'],
    );
    expect(piped.code, piped.stderr).toBe(0);
    const event = JSON.parse(piped.stdout) as { seq: number; lastSeq: number };
    const [envelope] = await arrived(event.seq, event.lastSeq);
    expect(envelope).toMatchObject({ channel: 'events', records: [{ tag: 'door.open', value: true }] });
  }, 60_000);

  it('exits 9 with the fix when nothing listens at the port', async () => {
    const result = await edge.cli([
      'produce',
      '--tag',
      't',
      '--value',
      '1',
      '--producer-port',
      String(await freePort()),
    ]);
    expect(result.code).toBe(9);
    expect(result.stderr).toMatch(/ECONNREFUSED.*Nothing was stored.*systemctl status consystence-edge/s);
  }, 30_000);
});
