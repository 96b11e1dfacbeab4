/**
 * Issue 12.5: `reset --yes` (or `pair --force`) while the service runs left a split brain: status said unpaired
 * while the running process stayed online as the old device. `run` now holds the state dir's run lock for its
 * lifetime; the destructive commands refuse with a plain message while it is held, a second `run` refuses too,
 * and a SIGKILLed service leaves no stale lock behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudProcess, type CloudProcess } from './support/cloud.js';
import { pairingUri, testEdge } from './support/edge.js';

const RUNNING = /the service is running: stop it with systemctl stop consystence-edge, then/;

describe.each(['node', 'bun'] as const)('the run lock (%s)', (runtime) => {
  let cloud: CloudProcess;
  beforeAll(async () => {
    cloud = await startCloudProcess();
  });
  afterAll(async () => {
    await cloud?.child.kill('SIGKILL');
  });

  it('refuses reset, pair --force and a second run while the service runs; a SIGKILL releases it', async () => {
    const edge = await testEdge(cloud, runtime, `lock-${runtime}`);
    const uri = async () => pairingUri(cloud, edge.siteId, edge.edgeId);
    const paired = await edge.cli(['pair', '--uri', await uri(), '--edge-id', edge.edgeId, '--no-connect']);
    expect(paired.code, paired.stderr).toBe(0);
    const service = edge.run();
    await service.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);

    const reset = await edge.cli(['reset', '--yes']);
    expect(reset.code).toBe(2);
    expect(reset.stderr).toMatch(RUNNING);
    const force = await edge.cli(['pair', '--uri', await uri(), '--edge-id', edge.edgeId, '--force', '--no-connect']);
    expect(force.code).toBe(2);
    expect(force.stderr).toMatch(RUNNING);
    const second = await edge.cli(['run', '--producer-port', 'off']);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/the service is already running/);
    // Nothing changed: still paired, still the same process online.
    expect((await edge.status()).edgeId).toBe(edge.edgeId);
    expect(service.proc.exitCode).toBeNull();

    await service.kill('SIGKILL');
    const after = await edge.cli(['reset', '--yes']);
    expect(after.code, after.stderr).toBe(0);
    expect((await edge.status()).state).toBe('unpaired');
  }, 120_000);
});
