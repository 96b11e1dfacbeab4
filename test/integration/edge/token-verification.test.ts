/**
 * A cloud that answers register-edge with a bad token must leave nothing saved. The forged answers come from a
 * small HTTP server in this test (the mock cloud only issues good tokens); the edge runtime is the real one.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeRuntime } from '../../../src/edge/runtime.js';
import { EdgeError } from '../../../src/edge/errors.js';
import { silentLogger } from '../../../src/common/log/log.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';

const ORG = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
const SITE = '9b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
const OTHER_SITE = '1b1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';
const EDGE_UUID = '7d1d2c3e-4f5a-4b6c-8d7e-0f1a2b3c4d5e';

type Forge = (ctx: { body: { hardwareId: string; publicKey: JWK }; url: string }) => Promise<string>;
let forge: Forge;
let server: Server;
let url: string;
let cloudKey: CryptoKey;
let otherKey: CryptoKey;
let jwk: JWK;

async function claimsFor(
  ctx: { body: { hardwareId: string; publicKey: JWK }; url: string },
  overrides: Record<string, unknown> = {},
) {
  const { calculateJwkThumbprint } = await import('jose');
  return {
    iss: ctx.url,
    aud: `consystence-site:${SITE}`,
    sub: EDGE_UUID,
    edge: 'edge-1',
    site: SITE,
    org: ORG,
    hw: ctx.body.hardwareId,
    cnf: { jkt: await calculateJwkThumbprint(ctx.body.publicKey, 'sha256') },
    jti: 'j1',
    ...overrides,
  };
}
const sign = (claims: Record<string, unknown>, key = cloudKey, exp = '1h') =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt().setExpirationTime(exp).sign(key);

beforeAll(async () => {
  ({ privateKey: cloudKey } = await generateKeyPair('ES256', { extractable: true }));
  ({ privateKey: otherKey } = await generateKeyPair('ES256', { extractable: true }));
  const publicJwk = await exportJWK(cloudKey);
  delete publicJwk.d;
  jwk = { ...publicJwk, kid: 'k1', alg: 'ES256', use: 'sig' };
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/jwks.json') return res.end(JSON.stringify({ keys: [jwk] }));
      const body = JSON.parse(raw);
      const edgeToken = await forge({ body, url });
      res.statusCode = 201;
      res.end(
        JSON.stringify({
          id: EDGE_UUID,
          edgeId: 'edge-1',
          orgId: ORG,
          siteId: SITE,
          edgeToken,
          serverTime: new Date().toISOString(),
          config: {
            siteServer: {
              url: 'https://site:5000',
              mqtt: {
                url: 'mqtt://127.0.0.1:1',
                topicPrefix: `consystence/v1/sites/${SITE}/edges/edge-1`,
                keepaliveSeconds: 30,
              },
            },
            heartbeatSeconds: 30,
            buffer: { retentionDays: 7, maxSizeMb: 1024 },
          },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function attempt(f: Forge) {
  forge = f;
  const runtime = await createEdgeRuntime({
    stateDir: tempDir('cst-verify-'),
    hardwareId: testHardwareId(),
    logger: silentLogger,
  });
  try {
    const error = await runtime
      .pair({ cloudUrl: url, orgId: ORG, siteId: SITE, code: '7KQ4MX29', edgeId: 'edge-1' })
      .then(
        () => null,
        (e: unknown) => e,
      );
    return {
      error: error as EdgeError | null,
      registration: runtime.state.registration.get(),
      report: runtime.status(),
    };
  } finally {
    runtime.close();
  }
}

describe('edge token verification at pairing', () => {
  it('accepts a correct token (the control case)', async () => {
    const result = await attempt(async (ctx) => sign(await claimsFor(ctx)));
    expect(result.error).toBeNull();
    expect(result.registration?.edgeId).toBe('edge-1');
  });

  it.each([
    ['signed by another key', async (ctx: Parameters<Forge>[0]) => sign(await claimsFor(ctx), otherKey)],
    [
      'with a wrong audience',
      async (ctx: Parameters<Forge>[0]) => sign(await claimsFor(ctx, { aud: 'consystence-api' })),
    ],
    ['for another site', async (ctx: Parameters<Forge>[0]) => sign(await claimsFor(ctx, { site: OTHER_SITE }))],
    ['already expired', async (ctx: Parameters<Forge>[0]) => sign(await claimsFor(ctx), cloudKey, '-2h')],
    [
      'from another issuer',
      async (ctx: Parameters<Forge>[0]) => sign(await claimsFor(ctx, { iss: 'https://evil.example' })),
    ],
    [
      'for another device key',
      async (ctx: Parameters<Forge>[0]) => sign(await claimsFor(ctx, { cnf: { jkt: 'A'.repeat(43) } })),
    ],
    [
      'for another hardware id',
      async (ctx: Parameters<Forge>[0]) => sign(await claimsFor(ctx, { hw: 'f'.repeat(64) })),
    ],
    [
      'unsigned (alg none)',
      async (ctx: Parameters<Forge>[0]) => {
        const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        return `${enc({ alg: 'none' })}.${enc({ ...(await claimsFor(ctx)), iat: 1, exp: 4102444800 })}.`;
      },
    ],
  ])('refuses a token %s and saves nothing', async (_label, f) => {
    const result = await attempt(f);
    expect(result.error).toBeInstanceOf(EdgeError);
    expect(result.error!.exitCode).toBe(5);
    expect(result.registration).toBeNull();
    expect(result.report.state).not.toBe('paired');
  });
});
