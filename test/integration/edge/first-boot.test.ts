/**
 * First boot as the packaged service does it: `run` on an unpaired device pairs from the pairing-URI file,
 * records it as used and leaves it in place (saying so), and goes on to connect, telling systemd (a fake NOTIFY_SOCKET) READY=1 and, on SIGTERM,
 * STOPPING=1. Without a file it exits 7 and says what to do; a URI it paired from before is not used again, in
 * whatever form it is written (code case and dashes, extra query parameters).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandFor, runToEnd, startEntry } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { hasNotifyListener, notifications, startNotifyListener } from '../../helpers/notify-listener.js';
import { createSite, DEMO_ORG_ID, pointSiteAt, startCloudProcess, type CloudProcess } from '../../e2e/support/cloud.js';
import { startTokenBroker, type TokenBroker } from '../../e2e/support/token-broker.js';

let cloud: CloudProcess;
let broker: TokenBroker;
let siteId: string;

beforeAll(async () => {
  cloud = await startCloudProcess();
  siteId = await createSite(cloud.admin, 'first-boot');
  broker = await startTokenBroker({ cloudUrl: cloud.url, siteId, jwks: (await cloud.admin.jwks()) as never });
  await pointSiteAt(cloud.admin, siteId, broker.url);
});
afterAll(async () => {
  await broker?.close();
  await cloud?.child.kill('SIGKILL');
});

describe('first boot', () => {
  it('exits 7 with the next step when unpaired and no pairing-URI file exists', async () => {
    const dir = tempDir();
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const result = await runToEnd(command, [
      ...args,
      'run',
      '--state-dir',
      dir,
      '--hardware-id',
      'rig-1',
      '--pairing-uri-file',
      join(dir, 'absent'),
    ]);
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(/not paired .* pairing-URI file/);
  });

  it('pairs from the pairing-URI file, leaves the file in place and says so, and connects', async () => {
    const dir = tempDir();
    const file = join(dir, 'pairing-uri');
    const notifySocket = join(dir, 'notify');
    const listener = (await hasNotifyListener()) ? await startNotifyListener(notifySocket) : null;
    if (!listener) console.log('python3 is not installed: READY/STOPPING to NOTIFY_SOCKET not checked');
    writeFileSync(
      file,
      `${(await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, { edgeId: 'first-boot-1' })).pairingUri}\n`,
    );
    const edge = startEntry(
      'node',
      'src/edge/main.ts',
      [
        'run',
        '--json',
        '--state-dir',
        dir,
        '--hardware-id',
        testHardwareId(),
        '--pairing-uri-file',
        file,
        '--edge-id',
        'first-boot-1',
      ],
      { env: { NOTIFY_SOCKET: notifySocket } },
    );
    await edge.waitForLine((l) => l.event === 'state' && l.state === 'online', 30_000);
    expect(existsSync(file)).toBe(true);
    expect(edge.lines.find((l) => l.event === 'paired')?.pairingUriFile).toBe('kept');
    expect(edge.stderr.join('')).toMatch(/"event":"pairing_uri_file_kept".*delete the file/);
    await waitFor(() => broker.connects.some((c) => c.clientId === 'first-boot-1' && c.accepted), {
      what: 'an accepted CONNECT',
    });
    await edge.kill('SIGTERM');
    expect((await edge.exited).code).toBe(0);
    if (listener) {
      expect(notifications(listener, 'READY=1')).toBe(1);
      await waitFor(() => notifications(listener, 'STOPPING=1') === 1, { what: 'STOPPING=1' });
    }
  });

  it('never pairs twice from the same URI: after a reset, a spent one left in the file is refused with the next step', async () => {
    // The packaged service cannot delete the file (root's /etc/consystence-edge): it records the URI as used.
    const dir = tempDir();
    const file = join(dir, 'pairing-uri');
    const uri = (await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, { edgeId: 'first-boot-2' })).pairingUri;
    writeFileSync(file, `${uri}\n`);
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const common = ['--state-dir', dir, '--hardware-id', testHardwareId('first-boot-2')];
    const edge = startEntry('node', 'src/edge/main.ts', ['run', '--json', ...common, '--pairing-uri-file', file]);
    await edge.waitForLine((l) => l.event === 'paired', 30_000);
    await edge.kill('SIGTERM');
    expect((await runToEnd(command, [...args, 'reset', '--yes', ...common])).code).toBe(0);
    const url = new URL(uri);
    const code = url.searchParams.get('code')!;
    const written = (params: Record<string, string>, extra = '') => {
      const variant = new URL(uri);
      for (const [key, value] of Object.entries(params)) variant.searchParams.set(key, value);
      return `${variant.href}${extra}`;
    };
    // The same URI, as the portal gave it and as a technician might type or paste it.
    for (const same of [
      uri,
      written({ code: code.toLowerCase() }),
      written({ code: code.replace('-', '') }),
      written({}, '&zz=1'),
    ]) {
      writeFileSync(file, `${same}\n`);
      const again = await runToEnd(command, [...args, 'run', ...common, '--pairing-uri-file', file]);
      expect(again.code, same.replace(code, '<code>')).toBe(7);
      expect(again.stderr).toMatch(/pairing URI in .* was used before .* place a new pairing URI/);
    }
  }, 90_000);
});
