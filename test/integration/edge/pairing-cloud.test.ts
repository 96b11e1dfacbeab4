/**
 * Pairing through the real CLI against a real mock cloud process and its fault endpoints: 503 with Retry-After,
 * malformed and truncated bodies, the lost response (committed, then the socket dropped), a used code. The
 * cloud's own edge list proves that no retry registered twice.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { normalizePairingCode } from '../../../src/protocol/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandFor, runToEnd } from '../../helpers/process.js';
import { startFrozenListener } from '../../helpers/frozen-listener.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { createSite, DEMO_ORG_ID, startCloudProcess, type CloudProcess } from '../../e2e/support/cloud.js';

const REGISTER = 'POST /api/organisations/*/sites/*/register-edge';
let cloud: CloudProcess;
let siteId: string;

beforeAll(async () => {
  cloud = await startCloudProcess();
  siteId = await createSite(cloud.admin, 'pairing');
});
afterAll(async () => {
  await cloud?.child.kill('SIGKILL');
});

async function pair(
  uri: string,
  edgeId: string,
  extra: string[] = [],
  stateDir = tempDir('cst-pair-'),
  hardwareId = testHardwareId(edgeId),
) {
  const { command, args } = commandFor('node', 'src/edge/main.ts');
  const base = ['--state-dir', stateDir, '--hardware-id', hardwareId];
  const result = await runToEnd(
    command,
    [...args, 'pair', '--edge-id', edgeId, '--json', '--no-connect', ...base, ...extra],
    { env: { [PAIRING_URI_ENV]: uri } },
  );
  const lines = result.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const status = await runToEnd(command, [...args, 'status', '--json', ...base]);
  return { ...result, lines, status: JSON.parse(status.stdout) as Record<string, unknown>, stateDir, hardwareId };
}

const newUri = async () => (await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, {})).pairingUri;
const edgesNamed = async (edgeId: string) =>
  (await cloud.admin.listEdges(DEMO_ORG_ID, siteId)).filter((e) => e.edgeId === edgeId);

describe('pairing against the mock cloud', () => {
  it('retries a 503 after its Retry-After and then pairs', async () => {
    await cloud.admin.faults.set({ type: 'status', route: REGISTER, status: 503, retryAfterSeconds: 1, times: 1 });
    const result = await pair(await newUri(), 'edge-503');
    expect(result.code, result.stderr).toBe(0);
    const retry = result.lines.find((l) => l.step === 'register' && l.status === 'retry');
    expect(retry?.delayMs).toBeGreaterThanOrEqual(1000);
    expect(result.status).toMatchObject({
      state: 'paired',
      registeredVia: 'pairing-code',
      siteServerUrl: null,
      siteServerFingerprint: null,
      offlineLicence: null,
    });
  });

  it('survives a lost response: the retry replays the same registration and the code is not burned', async () => {
    await cloud.admin.faults.set({ type: 'drop-after-commit', route: REGISTER, times: 1 });
    const result = await pair(await newUri(), 'edge-lost');
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.some((l) => l.step === 'register' && l.status === 'retry')).toBe(true);
    expect(await edgesNamed('edge-lost')).toHaveLength(1);
    expect(result.status).toMatchObject({ state: 'paired', edgeId: 'edge-lost' });
  });

  it('retries a truncated body (same key) and pairs once', async () => {
    await cloud.admin.faults.set({ type: 'truncated-body', route: REGISTER, times: 1 });
    const result = await pair(await newUri(), 'edge-cut');
    expect(result.code, result.stderr).toBe(0);
    expect(await edgesNamed('edge-cut')).toHaveLength(1);
  });

  it('refuses a malformed body, saves nothing, and a re-run with the same code replays', async () => {
    const uri = await newUri();
    await cloud.admin.faults.set({ type: 'malformed-body', route: REGISTER, times: 1 });
    const first = await pair(uri, 'edge-garbled');
    expect(first.code).toBe(5);
    expect(first.stderr).toMatch(/not valid JSON/);
    expect(first.status.state).toBe('pairing'); // a pending pairing, no registration
    const second = await pair(uri, 'edge-garbled', [], first.stateDir, first.hardwareId);
    expect(second.code, second.stderr).toBe(0);
    expect(await edgesNamed('edge-garbled')).toHaveLength(1);
  });

  it('after an unfinished pairing, another code is refused (the first may be used) until --force abandons it', async () => {
    await cloud.admin.faults.set({ type: 'malformed-body', route: REGISTER, times: 1 });
    const first = await pair(await newUri(), 'edge-unfinished');
    expect(first.code).toBe(5);
    const otherCode = await newUri();
    const refused = await pair(otherCode, 'edge-unfinished', [], first.stateDir, first.hardwareId);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /interrupted pair with the cloud .* for edge edge-unfinished, started .*pairing code may already be used.*pair command again.*--force/s,
    );
    expect(refused.status.state).toBe('pairing');
    const forced = await pair(otherCode, 'edge-unfinished', ['--force'], first.stateDir, first.hardwareId);
    expect(forced.code, forced.stderr).toBe(0);
  });

  it('keeps only a salted digest of the code in the pending request, and replays one an earlier version saved', async () => {
    const uri = await newUri();
    const code = normalizePairingCode(new URL(uri).searchParams.get('code')!)!;
    const unsalted = createHash('sha256').update(code).digest('hex');
    await cloud.admin.faults.set({ type: 'malformed-body', route: REGISTER, times: 1 });
    const first = await pair(uri, 'edge-upgraded');
    expect(first.code).toBe(5);
    const stateFile = join(first.stateDir, 'identity.db');
    const saved = readFileSync(stateFile).toString('latin1');
    expect(saved).not.toContain(unsalted);
    expect(saved).not.toContain(code);
    // What an earlier version wrote: the same request with the code as an unsalted SHA-256 (a device mid-pairing
    // when the upgrade lands).
    const db = new Database(stateFile);
    try {
      const row = db.prepare('SELECT body FROM pending_pairing').get() as { body: string };
      const body = JSON.parse(row.body) as Record<string, unknown>;
      expect(body.code).toMatch(/^scrypt1\$/);
      db.prepare('UPDATE pending_pairing SET body = ?').run(JSON.stringify({ ...body, code: unsalted }));
    } finally {
      db.close();
    }
    // The replay uses the saved Idempotency-Key: a fresh one would find the code used (exit 3).
    const second = await pair(uri, 'edge-upgraded', [], first.stateDir, first.hardwareId);
    expect(second.code, second.stderr).toBe(0);
    expect(await edgesNamed('edge-upgraded')).toHaveLength(1);
  });

  it('explains a used code in plain language (exit 3)', async () => {
    const uri = await newUri();
    expect((await pair(uri, 'edge-first')).code).toBe(0);
    const again = await pair(uri, 'edge-second');
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/already used; ask for a new one/);
    expect(again.status.state).toBe('unpaired');
  });

  it('a frozen cloud (SIGSTOP: TCP accepts, nothing answers): contacting, a waiting line, then the retry', async () => {
    const frozen = await startFrozenListener();
    try {
      const { port } = frozen;
      const uri = (await newUri()).replace(/cloud=[^&]+/, `cloud=${encodeURIComponent(`http://127.0.0.1:${port}`)}`);
      const result = await pair(uri, 'edge-frozen', ['--max-attempts', '2']);
      expect(result.code).toBe(4);
      const reach = result.lines.filter((l) => l.step === 'reach').map((l) => `${l.status}: ${l.message ?? ''}`);
      expect(reach.slice(0, 4), JSON.stringify(reach)).toEqual([
        'start: ',
        `progress: contacting the cloud at http://127.0.0.1:${port}`,
        'progress: still waiting: the cloud has not answered yet (it gets 15 s)',
        expect.stringMatching(/^retry: the cloud did not answer in time; trying again in/),
      ]);
    } finally {
      frozen.release();
    }
  }, 120_000);

  it('says the cloud is unreachable after its retries (exit 4)', async () => {
    const uri = (await newUri()).replace(/cloud=[^&]+/, `cloud=${encodeURIComponent('http://127.0.0.1:9')}`);
    const result = await pair(uri, 'edge-nowhere', ['--max-attempts', '2']);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/cannot reach the cloud/);
  });
});
