/**
 * A site server's edge-facing API written from the contract alone (src/protocol/licences.ts, SITE_EDGE_ROUTES),
 * on a real HTTPS listener with a self-signed certificate: identity, register (Idempotency-Key, one binding per
 * licence key) and, air-gapped, token refresh. It lets the device's side be tested before the mock site server
 * has the routes, and it can misbehave on purpose (forged licence, token by an unnamed key, a lost answer).
 * Offline licences are signed with the development licence key the device embeds (keys/dev).
 */
import { createHash, generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, createLocalJWKSet, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { generateCerts } from '../../../scripts/gen-certs.js';
import {
  DeviceAssertionClaims,
  LICENCE_JWS_TYPE,
  licenceHash,
  SITE_EDGE_ROUTES,
  SiteRegisterRequest,
  edgeTokenAudience,
  siteEdgeUrl,
  siteIssuer,
} from '../../../src/protocol/index.js';
import { ROOT } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';

export interface ContractSiteServerOptions {
  mode: 'connected' | 'air-gapped';
  /** Misbehaviours for the refusal tests. */
  forgeLicence?: boolean;
  signWithUnnamedKey?: boolean;
  /** Air-gapped: the licence file names another key, or the device's key hashed for another site. */
  licenceNames?: 'another-key' | 'the-key-at-another-site';
  /** Answers the first register with a dropped connection, after binding (a lost answer). */
  dropFirstAnswer?: boolean;
  /** Holds every register answer until released (a power cut while the device waits). */
  holdAnswers?: boolean;
}

export interface ContractSiteServer {
  url: string;
  fingerprint: string;
  orgId: string;
  siteId: string;
  /** Every request as received: method, path, Idempotency-Key, body text. */
  requests: Array<{ method: string; path: string; idempotencyKey?: string; body: string }>;
  /** Licence key → hardware id. */
  bindings: Map<string, string>;
  /** Licence key → how many registrations were decided for it (a replay is not one). */
  decided: Map<string, number>;
  /** Keys taken as already bound to other hardware. */
  boundElsewhere: Set<string>;
  releaseHeld(): void;
  close(): Promise<void>;
}

const CLOUD_URL = 'https://cloud.example.test';

async function es256Pair(kid: string) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid };
  const { d: _d, ...publicJwk } = jwk;
  return { key: await importJWK(jwk, 'ES256'), publicJwk: publicJwk as JWK & { kid: string } };
}

export async function startContractSiteServer(options: ContractSiteServerOptions): Promise<ContractSiteServer> {
  const certs = generateCerts(tempDir('cst-site-certs-'), { bad: true });
  const cert = readFileSync(certs.bad!.selfSigned.cert, 'utf8');
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  const fingerprint = `sha256:${createHash('sha256').update(spki).digest('hex')}`;
  const orgId = randomUUID();
  const siteId = randomUUID();
  const cloudKey = await es256Pair('cloud-1');
  const siteKey = await es256Pair('site-1');
  const unnamedKey = await es256Pair('site-1');
  const devLicenceJwk = JSON.parse(readFileSync(`${ROOT}/keys/dev/licence-signing.private.jwk`, 'utf8')) as JWK;
  const licenceSigner = options.forgeLicence
    ? (await es256Pair(devLicenceJwk.kid!)).key
    : await importJWK(devLicenceJwk, 'ES256');
  const requests: ContractSiteServer['requests'] = [];
  const bindings = new Map<string, string>();
  const decided = new Map<string, number>();
  const boundElsewhere = new Set<string>();
  const answers = new Map<string, { status: number; body: unknown }>();
  const held: Array<() => void> = [];
  let dropped = false;

  const licence = async (licenceKeys: string[]) =>
    new SignJWT({
      typ: 'offline-licence',
      jti: randomUUID(),
      org: orgId,
      site: siteId,
      licenceHashes: licenceKeys.map((key) =>
        options.licenceNames === 'another-key'
          ? licenceHash(siteId, `${key}-OTHER`)
          : licenceHash(options.licenceNames === 'the-key-at-another-site' ? randomUUID() : siteId, key),
      ),
      siteServerKey: siteKey.publicJwk,
    })
      .setProtectedHeader({ alg: 'ES256', typ: LICENCE_JWS_TYPE, kid: devLicenceJwk.kid! })
      .setIssuer(CLOUD_URL)
      .setIssuedAt()
      .sign(licenceSigner);

  const edgeToken = async (claims: { edgeUuid: string; edgeId: string; hardwareId: string; jkt: string }) => {
    const airGapped = options.mode === 'air-gapped';
    const signer = airGapped ? (options.signWithUnnamedKey ? unnamedKey : siteKey) : cloudKey;
    return new SignJWT({
      edge: claims.edgeId,
      site: siteId,
      org: orgId,
      hw: claims.hardwareId,
      cnf: { jkt: claims.jkt },
      jti: randomUUID(),
    })
      .setProtectedHeader({ alg: 'ES256', kid: signer.publicJwk.kid })
      .setIssuer(airGapped ? siteIssuer(siteId) : CLOUD_URL)
      .setAudience(edgeTokenAudience(siteId))
      .setSubject(claims.edgeUuid)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(signer.key);
  };

  const edges = new Map<string, { edgeUuid: string; hardwareId: string; publicKey: JWK }>();

  const register = async (body: string): Promise<{ status: number; body: unknown }> => {
    const parsed = SiteRegisterRequest.safeParse(JSON.parse(body));
    if (!parsed.success) return { status: 400, body: { error: { code: 'VALIDATION_ERROR', message: 'bad body' } } };
    const request = parsed.data;
    const bound = bindings.get(request.licenceKey);
    if (boundElsewhere.has(request.licenceKey) || (bound && bound !== request.hardwareId))
      return { status: 409, body: { error: { code: 'LICENCE_BOUND', message: 'bound to other hardware' } } };
    bindings.set(request.licenceKey, request.hardwareId);
    decided.set(request.licenceKey, (decided.get(request.licenceKey) ?? 0) + 1);
    const edgeUuid = randomUUID();
    edges.set(request.edgeId, { edgeUuid, hardwareId: request.hardwareId, publicKey: request.publicKey as JWK });
    const token = await edgeToken({
      edgeUuid,
      edgeId: request.edgeId,
      hardwareId: request.hardwareId,
      jkt: await calculateJwkThumbprint(request.publicKey as JWK, 'sha256'),
    });
    const config = {
      siteServer: {
        url: server.url,
        mqtt: {
          url: 'mqtt://127.0.0.1:1',
          topicPrefix: `consystence/v1/sites/${siteId}/edges/${request.edgeId}`,
          keepaliveSeconds: 30,
        },
      },
      heartbeatSeconds: 30,
      buffer: { retentionDays: 7, maxSizeMb: 64 },
    };
    const common = {
      id: edgeUuid,
      edgeId: request.edgeId,
      orgId,
      siteId,
      edgeToken: token,
      serverTime: new Date().toISOString(),
      config,
    };
    return {
      status: 201,
      body:
        options.mode === 'air-gapped'
          ? { ...common, issuer: 'site', licence: await licence([request.licenceKey]) }
          : { ...common, issuer: 'cloud', jwks: { keys: [cloudKey.publicJwk] } },
    };
  };

  const refresh = async (edgeId: string, authorization: string, url: string) => {
    const edge = edges.get(edgeId);
    if (!edge) return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such edge' } } };
    const assertion = authorization.replace(/^Bearer /, '');
    try {
      const { payload } = await jwtVerify(assertion, createLocalJWKSet({ keys: [edge.publicKey] }), { audience: url });
      DeviceAssertionClaims.parse(payload);
    } catch {
      return { status: 401, body: { error: { code: 'INVALID_TOKEN', message: 'bad assertion' } } };
    }
    const token = await edgeToken({
      edgeUuid: edge.edgeUuid,
      edgeId,
      hardwareId: edge.hardwareId,
      jkt: await calculateJwkThumbprint(edge.publicKey, 'sha256'),
    });
    return { status: 200, body: { edgeToken: token, serverTime: new Date().toISOString() } };
  };

  const https: Server = createServer({ cert, key: readFileSync(certs.bad!.selfSigned.key) }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
      requests.push({ method: req.method ?? '', path, ...(idempotencyKey ? { idempotencyKey } : {}), body });
      const send = (answer: { status: number; body: unknown }) => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      };
      const route = async (): Promise<void> => {
        if (req.method === 'GET' && path === SITE_EDGE_ROUTES.identity)
          return send({ status: 200, body: { fingerprint, siteId, orgId, mode: options.mode } });
        if (req.method === 'POST' && path === SITE_EDGE_ROUTES.register) {
          const known = idempotencyKey ? answers.get(idempotencyKey) : undefined;
          const answer = known ?? (await register(body));
          if (idempotencyKey && answer.status < 500) answers.set(idempotencyKey, answer);
          if (options.dropFirstAnswer && !dropped) {
            dropped = true;
            req.socket.destroy();
            return;
          }
          if (options.holdAnswers) return void held.push(() => send(answer));
          return send(answer);
        }
        const token = /^\/api\/edge\/edges\/([a-z0-9-]+)\/token$/.exec(path);
        if (req.method === 'POST' && token && options.mode === 'air-gapped')
          return send(
            await refresh(
              token[1]!,
              req.headers.authorization ?? '',
              siteEdgeUrl(server.url, SITE_EDGE_ROUTES.token, { edgeId: token[1]! }),
            ),
          );
        send({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such route' } } });
      };
      route().catch((error: unknown) =>
        send({ status: 500, body: { error: { code: 'INTERNAL_ERROR', message: String(error) } } }),
      );
    });
  });
  https.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', () => resolve()));
  const server: ContractSiteServer = {
    url: `https://127.0.0.1:${(https.address() as AddressInfo).port}`,
    fingerprint,
    orgId,
    siteId,
    requests,
    bindings,
    decided,
    boundElsewhere,
    releaseHeld: () => held.splice(0).forEach((release) => release()),
    close: () =>
      new Promise<void>((resolve) => {
        https.closeAllConnections();
        https.close(() => resolve());
      }),
  };
  return server;
}
