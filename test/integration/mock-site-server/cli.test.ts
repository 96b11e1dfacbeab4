/**
 * The CLI as a real child process: bad flags exit 2 with a message; a start prints the ready line; SIGTERM
 * publishes the server's offline status to connected edges and exits 0; restarted from its --db with the cloud
 * stopped (and no --code), it still admits a known edge and still refuses a forged one.
 */
import { join } from 'node:path';
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { serverStatusTopic } from '../../../src/protocol/index.js';
import { freePort } from '../../helpers/mosquitto.js';
import { runToEnd, startEntry, commandFor } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { connectEdge, refusalCode, startCloudSite } from './helpers/site.js';

const ENTRY = 'src/mock/site-server/main.ts';

describe('consystence-mock-site CLI', () => {
  it('exits 2 with a clear message on bad flags', async () => {
    const { command, args } = commandFor('node', ENTRY);
    const cases: Array<[string[], RegExp]> = [
      [['--nonsense'], /Unknown option '--nonsense'/],
      [['--cloud', 'http://127.0.0.1:1'], /missing --org, --site/],
      [['--cloud', 'ftp://x', '--org', 'x', '--site', 'y', '--code', 'c'], /cloud|orgId|siteId/],
      [
        [
          '--cloud',
          'http://127.0.0.1:1',
          '--org',
          '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
          '--site',
          '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c12',
          '--mqtt-port',
          '99999',
        ],
        /mqttPort/,
      ],
      [
        [
          '--cloud',
          'http://127.0.0.1:1',
          '--org',
          '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
          '--site',
          '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c12',
          '--broker',
          'external',
        ],
        /--broker-url/,
      ],
      [
        [
          '--cloud',
          'http://127.0.0.1:1',
          '--org',
          '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11',
          '--site',
          '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c12',
          '--mqtt-port',
          '0',
          '--http-port',
          '0',
        ],
        /first start needs --code/,
      ],
    ];
    for (const [flags, message] of cases) {
      const result = await runToEnd(command, [...args, ...flags], { timeoutMs: 30_000 });
      expect([flags.join(' '), result.code]).toEqual([flags.join(' '), 2]);
      expect(result.stderr).toMatch(message);
    }
  });

  it('keeps admitting a known edge from its --db with the cloud stopped; SIGTERM announces offline and exits 0', async () => {
    const site = await startCloudSite();
    const dir = tempDir('cst-site-');
    const db = join(dir, 'site.db');
    const mqttPort = await freePort();
    const base = [
      '--cloud',
      site.cloudUrl,
      '--org',
      site.orgId,
      '--site',
      site.siteId,
      '--mqtt-port',
      String(mqttPort),
      '--http-port',
      '0',
      '--db',
      db,
      '--hardware-id',
      testHardwareId('cli'),
    ];

    const first = startEntry('node', ENTRY, [...base], { env: { CONSYSTENCE_SITE_CODE: await site.serverCode() } });
    const ready = await first.waitForLine((l) => l.event === 'listening', 30_000);
    expect(ready.mqttUrl).toBe(`mqtt://127.0.0.1:${mqttPort}`);
    expect(String(ready.httpUrl)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The pairing code never reaches the logs.
    const edge = await site.pairEdge('orin-cli');

    const client = await connectEdge(String(ready.mqttUrl), edge);
    const statuses: string[] = [];
    client.on('message', (_topic, payload) => statuses.push(JSON.parse(payload.toString()).state));
    await client.subscribeAsync(serverStatusTopic(site.siteId), { qos: 1 });
    const exit = await first.kill('SIGTERM');
    expect(exit.code).toBe(0);
    expect(statuses).toEqual(['online', 'offline']);
    client.end(true);

    await site.stopCloud();
    const second = startEntry('node', ENTRY, base);
    await second.waitForLine((l) => l.event === 'listening', 30_000);
    expect(second.stderr.join('\n')).toMatch(/trust_refresh_failed|cloud_unreachable_using_cache/);
    expect(await refusalCode(connectEdge(String(ready.mqttUrl), edge))).toBe(0);

    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(decodeJwt(edge.token)).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    expect(await refusalCode(connectEdge(String(ready.mqttUrl), { ...edge, token: forged }))).toBe(4);

    expect((await second.kill('SIGTERM')).code).toBe(0);
    expect([...first.stderr, ...second.stderr].join('\n')).not.toContain(edge.token);
  });
});
