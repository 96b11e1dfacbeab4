/** The state folder as the CLI meets it in the field: unusable, corrupt, and status never leaking a secret. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandFor, runToEnd } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { formatStatus } from '../../../src/edge/status/report.js';
import { silentLogger } from '../../../src/common/log/log.js';
import { IDENTITY_DB_FILE } from '../../../src/edge/stores/index.js';

const cli = (args: string[]) => {
  const { command, args: base } = commandFor('node', 'src/edge/main.ts');
  return runToEnd(command, [...base, ...args, '--hardware-id', 'rig-test']);
};

describe('state directory', () => {
  it('reports an unusable state dir with exit 6', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const result = await cli(['status', '--state-dir', join(file, 'sub')]);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/cannot use .* for state/);
  });

  it('status reports a corrupt database and moves nothing; a writing command moves it aside and says where', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, IDENTITY_DB_FILE), Buffer.alloc(8192, 0x5a));
    const looked = await cli(['status', '--json', '--state-dir', dir]);
    expect(looked.code).toBe(6);
    expect(looked.stderr).toMatch(/damaged .*nothing was moved/);
    expect(readdirSync(dir)).toEqual([IDENTITY_DB_FILE]);

    const result = await cli(['reset', '--yes', '--json', '--state-dir', dir]);
    expect(result.code, result.stderr).toBe(0);
    const moved = readdirSync(dir).find((f) => f.startsWith(`${IDENTITY_DB_FILE}.corrupt-`));
    expect(moved).toBeDefined();
    expect(result.stderr).toContain(`moved to ${join(dir, moved!)}`);
  });

  it('status and doctor on a folder with no database create nothing and read as unpaired', async () => {
    const dir = join(tempDir(), 'never-ran');
    const status = await cli(['status', '--json', '--state-dir', dir]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).state).toBe('unpaired');
    await cli(['doctor', '--state-dir', dir]);
    expect(existsSync(dir)).toBe(false);
  });

  it('never shows the token, the device key or a pairing code in status', async () => {
    const runtime = await createEdgeRuntime({
      stateDir: tempDir(),
      hardwareId: testHardwareId(),
      logger: silentLogger,
    });
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzZWNyZXQiOnRydWV9.c2lnbmF0dXJlLXNlY3JldA';
    const site = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
    runtime.state.registration.put({
      edgeUuid: '7d1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e',
      edgeId: 'edge-1',
      orgId: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
      siteId: site,
      cloudUrl: 'https://cloud',
      hardwareId: runtime.hardwareId,
      edgeToken: token,
      tokenIat: 1,
      tokenExp: 4102444800,
      config: {
        siteServer: {
          url: 'https://s:5000',
          mqtt: {
            url: 'mqtt://s:1883',
            topicPrefix: `consystence/v1/sites/${site}/edges/edge-1`,
            keepaliveSeconds: 30,
          },
        },
        heartbeatSeconds: 30,
        buffer: { retentionDays: 7, maxSizeMb: 10 },
      },
      pairedAt: new Date().toISOString(),
      tokenRefreshedAt: null,
      revokedAt: null,
    });
    const privateD = runtime.state.identity.get()!.privateJwk.d;
    const report = runtime.status();
    const text = JSON.stringify(report) + formatStatus(report);
    runtime.close();
    expect(text).toContain('edge-1');
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.split('.')[2]!);
    expect(text).not.toContain(privateD);
  });
});
