/**
 * The CLI as a process: `--db FILE` keeps registrations and the signing key across a restart (a token issued
 * before still verifies after, and the edge can still refresh), SIGTERM exits 0, and bad flags exit 2.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEMO_ORG_ID, DEMO_PASSWORD, DEMO_USERS, MockCloudClient } from '../../../src/mock/cloud/index.js';
import { commandFor, runToEnd, startEntry } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { assertion, demoSite, deviceKey, edgeBody } from './fixtures.js';

const ENTRY = 'src/mock/cloud/main.ts';
// A fixed public URL: the port changes across restarts, the issuer and assertion audience must not.
const PUBLIC_URL = 'http://cloud.rig.test';

async function start(args: string[]) {
  const child = startEntry('node', ENTRY, args);
  const line = await child.waitForLine((l) => l.event === 'listening', 30_000);
  return { child, url: String(line.url) };
}

describe('--db FILE', () => {
  it('keeps registrations and the signing key across a restart', async () => {
    const db = join(tempDir('mock-cloud-'), 'cloud.db');
    const first = await start(['--db', db, '--public-url', PUBLIC_URL]);
    const client = new MockCloudClient(first.url);
    await client.login(DEMO_USERS.engineer, DEMO_PASSWORD);
    const owner = new MockCloudClient(first.url);
    await owner.login(DEMO_USERS.owner, DEMO_PASSWORD);
    const site = await owner.createSite(DEMO_ORG_ID, demoSite());
    const key = await deviceKey();
    const edge = await client.registerEdge(DEMO_ORG_ID, site.id, edgeBody(key), { idempotencyKey: randomUUID() });
    expect(await first.child.kill('SIGTERM')).toEqual({ code: 0, signal: null });

    const second = await start(['--db', db, '--public-url', PUBLIC_URL]);
    try {
      const jwks = createRemoteJWKSet(new URL(`${second.url}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(edge.edgeToken, jwks, {
        issuer: PUBLIC_URL,
        audience: `consystence-site:${site.id}`,
        algorithms: ['ES256'],
      });
      expect(payload.sub).toBe(edge.id);

      const after = new MockCloudClient(second.url);
      await after.login(DEMO_USERS.viewer, DEMO_PASSWORD);
      expect((await after.listEdges(DEMO_ORG_ID, site.id)).map((e) => e.id)).toEqual([edge.id]);
      // The audience is the public URL, not the listening one.
      const audience = `${PUBLIC_URL}/api/organisations/${DEMO_ORG_ID}/sites/${site.id}/edges/${edge.edgeId}/token`;
      await after.refreshEdgeToken(DEMO_ORG_ID, site.id, edge.edgeId, await assertion(key, edge.id, audience));
    } finally {
      expect(await second.child.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    }
  });
});

describe('the CLI', () => {
  it('stops with exit 0 on SIGINT too, and prints exactly one stdout line', async () => {
    const { child } = await start([]);
    expect(await child.kill('SIGINT')).toEqual({ code: 0, signal: null });
    expect(child.lines).toHaveLength(1);
    expect(child.stderr.some((l) => l.includes('"event":"stopping"'))).toBe(true);
  });

  it('uses a --seed file instead of the default seed', async () => {
    const seed = join(tempDir('mock-cloud-'), 'seed.json');
    writeFileSync(
      seed,
      JSON.stringify({
        organisations: [
          {
            id: '5b0c6f0e-2a4d-4c8e-9f1a-3d2b1c0e9f8a',
            name: 'Rig Co',
            slug: 'rig',
            timezone: 'UTC',
            members: [{ email: 'tech@rig.test', role: 'engineer' }],
          },
        ],
        users: [{ id: '5b0c6f0e-2a4d-4c8e-9f1a-3d2b1c0e9f8b', email: 'tech@rig.test', password: 'rig-pass' }],
      }),
    );
    const { child, url } = await start(['--seed', seed]);
    try {
      const client = new MockCloudClient(url);
      expect((await client.login('tech@rig.test', 'rig-pass')).tokenType).toBe('Bearer');
      await expect(client.login(DEMO_USERS.owner, DEMO_PASSWORD)).rejects.toMatchObject({
        status: 401,
        code: 'INVALID_CREDENTIALS',
      });
    } finally {
      await child.kill('SIGTERM');
    }
  });

  it.each([
    [['--port', 'abc'], /--port/],
    [['--bogus'], /bogus/],
    [['--tls-cert', 'x.pem'], /--tls-cert and --tls-key go together/],
    [['--seed', '/nonexistent/seed.json'], /--seed \/nonexistent\/seed.json: cannot read it/],
    [['--public-url', 'ftp://x'], /--public-url/],
  ])('refuses %j with exit 2 and a clear message', async (args, message) => {
    const { command, args: base } = commandFor('node', ENTRY);
    const result = await runToEnd(command, [...base, ...args], { timeoutMs: 30_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});
