/**
 * `register` against a site server written from the contract, on real HTTPS with a self-signed certificate:
 * connected and air-gapped registration are verified and saved with the pin; a wrong fingerprint sends nothing (a
 * hostile listener records every byte); a forged licence file, a token signed by a key the licence does not name and
 * a licence key bound elsewhere save nothing; a lost answer is replayed with the same Idempotency-Key; the token of
 * an air-gapped registration is refreshed at the site server.
 */
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCerts } from '../../../scripts/gen-certs.js';
import { createLogger } from '../../../src/common/log/log.js';
import { EdgeError } from '../../../src/edge/errors.js';
import { createEdgeRuntime, type EdgeRuntime } from '../../../src/edge/runtime.js';
import { ensureIdentity } from '../../../src/edge/identity/device-key.js';
import { TokenManager } from '../../../src/edge/session/token-manager.js';
import { uploadBundle } from '../../../src/edge/diagnostics/upload.js';
import {
  edgeFetchFor,
  loadSiteRegistration,
  saveSiteRegistration,
} from '../../../src/edge/site-server/site-registration-store.js';
import { SiteIdentityMismatchError, spkiFingerprint } from '../../../src/edge/site-server/pinned-https.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import {
  type ContractSiteServer,
  type ContractSiteServerOptions,
  startContractSiteServer,
} from './contract-site-server.js';

const quiet = createLogger({ level: 'error', write: () => {} });
const LICENCE = 'CST-EDGE-TEST-0000-0001';
const open: Array<{ close(): unknown }> = [];
afterAll(async () => {
  for (const item of open) await item.close();
});

async function site(options: ContractSiteServerOptions): Promise<ContractSiteServer> {
  const server = await startContractSiteServer(options);
  open.push(server);
  return server;
}

async function device(hardwareId = testHardwareId()): Promise<EdgeRuntime> {
  const runtime = await createEdgeRuntime({
    stateDir: tempDir('cst-register-'),
    hardwareId,
    logger: quiet,
    pairingRetry: { maxAttempts: 3, policy: { baseMs: 50, capMs: 200, minMs: 10, maxHintMs: 1000 } },
  });
  open.push(runtime);
  return runtime;
}

async function refusal(promise: Promise<unknown>): Promise<EdgeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EdgeError);
  return error as EdgeError;
}

function expectNothingSaved(runtime: EdgeRuntime) {
  expect(runtime.state.registration.get()).toBeNull();
  expect(loadSiteRegistration(runtime.state.db)).toBeNull();
}

describe('register through the site server', () => {
  it('connected: verifies the cloud token against the relayed key set and saves the pin', async () => {
    const server = await site({ mode: 'connected' });
    const runtime = await device();
    const registration = await runtime.register({
      siteServerUrl: server.url,
      edgeId: 'orin-north-01',
      licenceKey: LICENCE,
      fingerprint: server.fingerprint as never,
    });
    expect(registration).toMatchObject({ edgeId: 'orin-north-01', siteId: server.siteId, orgId: server.orgId });
    expect(registration.cloudUrl).toBe('https://cloud.example.test');
    expect(loadSiteRegistration(runtime.state.db)).toMatchObject({
      siteServerUrl: server.url,
      fingerprint: server.fingerprint,
      mode: 'connected',
    });
    expect(runtime.status().registeredVia).toBe('site-connected');
  });

  it('air-gapped: verifies the licence with the built-in key, then the token with the key it names; refreshes at the site server', async () => {
    const server = await site({ mode: 'air-gapped' });
    const runtime = await device();
    const registration = await runtime.register({
      siteServerUrl: server.url,
      edgeId: 'orin-north-02',
      licenceKey: LICENCE,
      fingerprint: server.fingerprint as never,
    });
    expect(registration.siteId).toBe(server.siteId);
    expect(loadSiteRegistration(runtime.state.db)).toMatchObject({ mode: 'air-gapped' });
    const tokens = new TokenManager({
      state: runtime.state,
      clock: runtime.clock,
      fetch: edgeFetchFor(runtime.state.db),
      hardwareId: runtime.hardwareId,
      logger: quiet,
      onRevoked: () => {},
    });
    const before = registration.edgeToken;
    const refreshed = await tokens.refresh('test');
    expect(refreshed.edgeToken).not.toBe(before);
    expect(server.requests.filter((r) => r.path === `/api/edge/edges/orin-north-02/token`)).toHaveLength(1);
  });

  it('air-gapped: a refresh the site server refuses names the site server and register, not a pairing code', async () => {
    const server = await site({ mode: 'air-gapped' });
    const runtime = await device();
    await runtime.register({
      siteServerUrl: server.url,
      edgeId: 'orin-north-09',
      licenceKey: LICENCE,
      fingerprint: server.fingerprint as never,
    });
    // Another device key: the site server cannot verify the assertion and refuses it (401 INVALID_TOKEN).
    runtime.state.identity.delete();
    await ensureIdentity(runtime.state.identity, new Date());
    const tokens = new TokenManager({
      state: runtime.state,
      clock: runtime.clock,
      fetch: edgeFetchFor(runtime.state.db),
      hardwareId: runtime.hardwareId,
      logger: quiet,
      onRevoked: () => {},
    });
    const error = await refusal(tokens.refresh('test'));
    expect(error.message).toContain(`the site server ${server.url} did not accept`);
    expect(error.message).toContain('licence binding of orin-north-09');
    expect(error.message).toContain(`consystence-edge register --force --site-server ${server.url}`);
    expect(error.message).not.toMatch(/the cloud|pairing code/);
  });

  it('a wrong fingerprint is refused before anything is sent', async () => {
    const certs = generateCerts(tempDir('cst-hostile-'), { bad: true });
    const received: Buffer[] = [];
    const hostile: TlsServer = createTlsServer(
      { cert: readFileSync(certs.bad!.selfSigned.cert), key: readFileSync(certs.bad!.selfSigned.key) },
      (socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)),
    );
    hostile.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', () => resolve()));
    open.push(hostile);
    const url = `https://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
    const runtime = await device();
    const error = await refusal(
      runtime.register({
        siteServerUrl: url,
        edgeId: 'orin-north-03',
        licenceKey: LICENCE,
        fingerprint: `sha256:${'ab'.repeat(32)}` as never,
      }),
    );
    expect(error.code).toBe('SITE_IDENTITY_MISMATCH');
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain(
      spkiFingerprint(new (await import('node:crypto')).X509Certificate(readFileSync(certs.bad!.selfSigned.cert)).raw),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(Buffer.concat(received).length).toBe(0);
    expectNothingSaved(runtime);
  });

  it('without a fingerprint and without a terminal it refuses, showing the fingerprint; nothing is sent', async () => {
    const server = await site({ mode: 'connected' });
    const runtime = await device();
    const error = await refusal(
      runtime.register({ siteServerUrl: server.url, edgeId: 'orin-north-04', licenceKey: LICENCE }),
    );
    expect(error.code).toBe('SITE_NOT_TRUSTED');
    expect(error.message).toContain(server.fingerprint);
    expect(server.requests).toHaveLength(0);
    expectNothingSaved(runtime);
  });

  it('a fingerprint confirmed on the terminal is trusted; declined, nothing is sent', async () => {
    const server = await site({ mode: 'connected' });
    const declined = await device();
    const shown: string[] = [];
    const error = await refusal(
      declined.register(
        { siteServerUrl: server.url, edgeId: 'orin-north-05', licenceKey: LICENCE },
        { confirmFingerprint: async (fp) => (shown.push(fp), false) },
      ),
    );
    expect(error.code).toBe('SITE_NOT_TRUSTED');
    expect(shown).toEqual([server.fingerprint]);
    expect(server.requests).toHaveLength(0);
    const accepted = await device();
    await accepted.register(
      { siteServerUrl: server.url, edgeId: 'orin-north-05', licenceKey: LICENCE },
      { confirmFingerprint: async () => true },
    );
    expect(loadSiteRegistration(accepted.state.db)?.fingerprint).toBe(server.fingerprint);
  });

  it('a forged licence file is refused and nothing is saved', async () => {
    const server = await site({ mode: 'air-gapped', forgeLicence: true });
    const runtime = await device();
    const error = await refusal(
      runtime.register({
        siteServerUrl: server.url,
        edgeId: 'orin-north-06',
        licenceKey: LICENCE,
        fingerprint: server.fingerprint as never,
      }),
    );
    expect(error.code).toBe('TOKEN_REJECTED');
    expect(error.message).toContain('offline licence file is not signed');
    expectNothingSaved(runtime);
  });

  it.each(['another-key', 'the-key-at-another-site'] as const)(
    'a licence file whose hashes do not name the key sent (%s) is refused and nothing is saved',
    async (licenceNames) => {
      const server = await site({ mode: 'air-gapped', licenceNames });
      const runtime = await device();
      const error = await refusal(
        runtime.register({
          siteServerUrl: server.url,
          edgeId: 'orin-north-09',
          licenceKey: LICENCE,
          fingerprint: server.fingerprint as never,
        }),
      );
      expect(error.message).toMatch(/offline licence file is for another .*licence key/);
      expectNothingSaved(runtime);
    },
  );

  it('a token signed by a key the licence does not name is refused and nothing is saved', async () => {
    const server = await site({ mode: 'air-gapped', signWithUnnamedKey: true });
    const runtime = await device();
    const error = await refusal(
      runtime.register({
        siteServerUrl: server.url,
        edgeId: 'orin-north-07',
        licenceKey: LICENCE,
        fingerprint: server.fingerprint as never,
      }),
    );
    expect(error.code).toBe('TOKEN_REJECTED');
    expectNothingSaved(runtime);
  });

  it('a licence key bound to other hardware is refused with LICENCE_BOUND', async () => {
    const server = await site({ mode: 'connected' });
    server.boundElsewhere.add(LICENCE);
    const runtime = await device();
    const error = await refusal(
      runtime.register({
        siteServerUrl: server.url,
        edgeId: 'orin-north-08',
        licenceKey: LICENCE,
        fingerprint: server.fingerprint as never,
      }),
    );
    expect(error.cloudCode).toBe('LICENCE_BOUND');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('already bound to another device');
    expect(runtime.state.pending.get()).toBeNull();
    expectNothingSaved(runtime);
  });

  it('a lost answer is replayed with the same Idempotency-Key: one binding', async () => {
    const server = await site({ mode: 'connected', dropFirstAnswer: true });
    const runtime = await device();
    await runtime.register({
      siteServerUrl: server.url,
      edgeId: 'orin-north-09',
      licenceKey: LICENCE,
      fingerprint: server.fingerprint as never,
    });
    const posts = server.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(posts[0]!.idempotencyKey).toBeDefined();
    expect(posts[1]!.idempotencyKey).toBe(posts[0]!.idempotencyKey);
    expect(server.bindings.size).toBe(1);
  });

  it('later HTTPS calls trust only the pinned key: refresh, upload and doctor refuse a changed one, sending nothing', async () => {
    const server = await site({ mode: 'air-gapped' });
    const runtime = await device();
    await runtime.register({
      siteServerUrl: server.url,
      edgeId: 'orin-north-10',
      licenceKey: LICENCE,
      fingerprint: server.fingerprint as never,
    });
    const uploadArgs = { uploadUrl: `${server.url}/api/edge/support-bundles/x`, maxBytes: 1024 } as never;
    const target = (fingerprint: string) => ({
      siteUrl: server.url,
      brokerUrl: 'mqtt://127.0.0.1:1',
      token: 'edge-token',
      sitePin: { siteServerUrl: server.url, fingerprint: fingerprint as never },
    });
    // The pinned key: the self-signed certificate is accepted (no CA would vouch for it) and the request arrives.
    await expect(uploadBundle(uploadArgs, Buffer.from('x'), 'ab', target(server.fingerprint))).rejects.toThrow(
      'the site server refused the upload: 404',
    );
    expect((await runtime.doctor()).find((c) => c.name === 'site-server-identity')?.level).toBe('ok');
    expect((await runtime.doctor()).find((c) => c.name === 'cloud')?.level).toBe('skip');

    const other = `sha256:${'cd'.repeat(32)}`;
    const seen = server.requests.length;
    await expect(uploadBundle(uploadArgs, Buffer.from('x'), 'ab', target(other))).rejects.toThrow('not the pinned');
    const stored = loadSiteRegistration(runtime.state.db)!;
    runtime.state.db.transaction(() =>
      saveSiteRegistration(runtime.state.db, { ...stored, fingerprint: other as never }),
    );
    const tokens = new TokenManager({
      state: runtime.state,
      clock: runtime.clock,
      fetch: edgeFetchFor(runtime.state.db),
      hardwareId: runtime.hardwareId,
      logger: quiet,
      onRevoked: () => {},
    });
    await expect(tokens.refresh('test')).rejects.toBeInstanceOf(SiteIdentityMismatchError);
    expect(server.requests.length).toBe(seen);
    const doctor = await runtime.doctor();
    expect(doctor.find((c) => c.name === 'site-server-identity')).toMatchObject({ level: 'fail' });
  });
});
