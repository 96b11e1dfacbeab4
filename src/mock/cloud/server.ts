/**
 * Puts a mock cloud on a socket (HTTP, or HTTPS with `tls`) through @hono/node-server. The socket is bound
 * first because the default public URL (the token issuer) is only known once the port is.
 */
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { Logger } from '../../common/log/log.js';
import type { TrustedReleaseKey } from '../../protocol/index.js';
import { createCloud, type Cloud } from './cloud.js';
import type { LicenceSigningJwk } from './licence-signing.js';
import type { Seed } from './seed.js';

export interface MockCloudOptions {
  host?: string;
  port?: number;
  /** A SQLite file to keep state in across restarts; in memory when absent. */
  dbPath?: string;
  seed?: Seed;
  /** The base URL clients use (token issuer, pairing URIs, assertion audience); default the listening URL. */
  publicUrl?: string;
  logger?: Logger;
  /** PEM text of the certificate chain and key: serve HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
  edgeTokenTtlSeconds?: number;
  /** Bearer token for the `/_mock/` routes; generated when absent. */
  controlToken?: string;
  /** The private JWK that signs offline licence files; the committed development key when absent. */
  licenceSigningJwk?: LicenceSigningJwk;
  /** Release keys trusted besides the built-in set (`--release-keys FILE`). */
  releaseKeys?: readonly TrustedReleaseKey[];
  /** A key-rotation document (compact JWS) sent with every campaign (`--release-rotation FILE`). */
  releaseRotation?: string;
  /** Tests only: a lower cap than `MAX_BUNDLE_BYTES` on uploaded bundles. */
  maxBundleBytes?: number;
}

export interface RunningCloud {
  url: string;
  controlToken: string;
  cloud: Cloud;
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startCloudServer(options: MockCloudOptions = {}): Promise<RunningCloud> {
  const host = options.host ?? '127.0.0.1';
  let cloud: Cloud | undefined;
  const server = createAdaptorServer({
    fetch: (request, env) =>
      cloud ? cloud.app.fetch(request, env) : new Response(null, { status: 503, headers: { 'Retry-After': '1' } }),
    hostname: host,
    ...(options.tls
      ? { createServer: createHttpsServer, serverOptions: { cert: options.tls.cert, key: options.tls.key } }
      : {}),
  }) as Server;
  server.listen(options.port ?? 0, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error))]);
  const { port } = server.address() as AddressInfo;
  const url = `${options.tls ? 'https' : 'http'}://${urlHost(host)}:${port}`;

  const stopServer = async () => {
    const closed = once(server, 'close');
    server.close();
    server.closeAllConnections();
    await closed;
  };
  try {
    cloud = await createCloud({
      publicUrl: options.publicUrl ?? url,
      dbPath: options.dbPath,
      seed: options.seed,
      logger: options.logger,
      edgeTokenTtlSeconds: options.edgeTokenTtlSeconds,
      controlToken: options.controlToken,
      licenceSigningJwk: options.licenceSigningJwk,
      releaseKeys: options.releaseKeys,
      releaseRotation: options.releaseRotation,
      maxBundleBytes: options.maxBundleBytes,
    });
  } catch (error) {
    await stopServer();
    throw error;
  }
  const ready = cloud;
  let closing: Promise<void> | undefined;
  return {
    url,
    controlToken: ready.controlToken,
    cloud: ready,
    close: () => (closing ??= stopServer().finally(() => ready.close())),
  };
}
