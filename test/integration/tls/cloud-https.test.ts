/**
 * Pairing with a cloud on https with a private CA: `pair --cloud-ca FILE` trusts only that CA, saves it, and
 * token refreshes later trust it too. Expired, self-signed and wrong-host certificates, and a private cloud
 * without --cloud-ca, fail the pairing at once with a sentence that says what to check, and nothing is saved.
 */
import { PAIRING_CODE_ENV, PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCerts, type CertPair, type CertSet } from '../../../scripts/gen-certs.js';
import { loadCloudCa, pinnedFetch } from '../../../src/edge/cloud-client/http-pinned.js';
import { createLogger } from '../../../src/common/log/log.js';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { commandFor, runToEnd } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { DEMO_ORG_ID, startCloud, type Cloud } from '../interop/support.js';

let certs: CertSet;
let cloud: Cloud;
let siteId: string;
const servers: Server[] = [];

beforeAll(async () => {
  certs = generateCerts(tempDir('cst-certs-'), { bad: true });
  cloud = await startCloud({ cert: certs.server.cert, key: certs.server.key, ca: certs.ca.cert });
  const site = await cloud.admin.createSite(DEMO_ORG_ID, {
    name: 'tls',
    slug: `tls-${Date.now().toString(36)}`,
    timezone: 'Australia/Perth',
  });
  siteId = site.id;
}, 30_000);
afterAll(async () => {
  for (const server of servers) server.close();
  await cloud?.close();
});

const quiet = createLogger({ level: 'error', write: () => {} });
const ca = () => readFileSync(certs.ca.cert, 'utf8');

async function httpsWith(pair: CertPair): Promise<string> {
  const server = createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key) }, (_req, res) =>
    res.end('{}'),
  );
  server.on('tlsClientError', () => {});
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `https://localhost:${(server.address() as AddressInfo).port}`;
}

async function pairAgainst(cloudUrl: string, caPem: string | undefined) {
  const runtime = await createEdgeRuntime({
    stateDir: tempDir('cst-tls-pair-'),
    hardwareId: testHardwareId(),
    logger: quiet,
    pairingRetry: { maxAttempts: 1 },
    ...(caPem ? { fetch: pinnedFetch(caPem) } : {}),
  });
  try {
    await runtime.pair({ cloudUrl, orgId: DEMO_ORG_ID, siteId, code: 'AAAAAAAA', edgeId: 'orin-tls-bad' });
    throw new Error('pairing should have failed');
  } catch (error) {
    expect(runtime.state.registration.get()).toBeNull();
    return error as Error & { code?: string };
  } finally {
    runtime.close();
  }
}

describe('pairing over https', () => {
  it('pair --cloud-ca: pairs, saves the CA, and a later token refresh trusts it', async () => {
    const stateDir = tempDir('cst-tls-cli-');
    const hardwareId = testHardwareId('tls-cli');
    const { pairingUri } = await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, {});
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const result = await runToEnd(
      command,
      [
        ...args,
        'pair',
        '--edge-id',
        'orin-tls-cli',
        '--cloud-ca',
        certs.ca.cert,
        '--json',
        '--no-connect',
        '--state-dir',
        stateDir,
        '--hardware-id',
        hardwareId,
      ],
      { env: { [PAIRING_URI_ENV]: pairingUri } },
    );
    expect(result.code, result.stderr).toBe(0);

    const runtime = await createEdgeRuntime({ stateDir, hardwareId, logger: quiet });
    try {
      expect(loadCloudCa(runtime.state.db)).toContain('BEGIN CERTIFICATE');
      const before = runtime.state.registration.get()!.edgeToken;
      // No fetch given: the runtime builds its own from the saved CA.
      const session = runtime.createSession();
      const after = await session.tokens.refresh('test');
      expect(after.edgeToken).not.toBe(before);
    } finally {
      runtime.close();
    }
  }, 30_000);

  it('refuses a private cloud when no CA was given (the system store does not know it)', async () => {
    const error = await pairAgainst(cloud.url, undefined);
    expect(error.message).toMatch(
      /the cloud's certificate is not signed by any CA this device trusts \(\w+\); check --cloud-ca/,
    );
  });

  it.each([
    ['expired', (c: CertSet) => c.bad!.expired, /the cloud's certificate has expired \(CERT_HAS_EXPIRED\)/],
    [
      'self-signed',
      (c: CertSet) => c.bad!.selfSigned,
      /the cloud's certificate is self-signed.*\(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
    ],
    [
      'wrong-host',
      (c: CertSet) => c.bad!.wrongHost,
      /the cloud's certificate is not issued for localhost \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
    ],
  ])('refuses a %s certificate at once, with a clear reason', async (_name, pick, pattern) => {
    const url = await httpsWith(pick(certs));
    const error = await pairAgainst(url, ca());
    expect(error.message).toMatch(pattern);
    expect(error.message).toContain('nothing was saved');
    expect(error.code).toBe('CLOUD_UNREACHABLE');
  });

  it('--cloud-ca refuses a file that is not a CA certificate', async () => {
    const { command, args } = commandFor('node', 'src/edge/main.ts');
    const result = await runToEnd(
      command,
      [
        ...args,
        'pair',
        '--cloud',
        cloud.url,
        '--org',
        DEMO_ORG_ID,
        '--site',
        siteId,
        '--cloud-ca',
        certs.server.cert,
        '--no-connect',
        '--state-dir',
        tempDir('cst-tls-cli-'),
      ],
      { env: { [PAIRING_CODE_ENV]: 'AAAA-AAAA' } },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--cloud-ca .* holds a certificate that is not a CA/);
  }, 30_000);
});
