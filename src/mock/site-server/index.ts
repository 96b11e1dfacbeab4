/**
 * `startMockSiteServer(options)`: the composition root. Starts, in order: the database, the broker (embedded) or
 * nothing (external), the HTTP listener, the cloud registration, the trust cache and its refresher, the site
 * logic client, then the control API. TLS files are read and checked before anything listens. Nothing starts on
 * import; everything started is stopped by `close()`, and a failure half-way stops what had started before it is
 * reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createLogger, type Logger } from '../../common/log/log.js';
import { openDatabase } from '../../storage/index.js';
import { siteServerMigrations } from './migrations/index.js';
import { EXP_LEEWAY_SECONDS, EdgeAuthenticator, type AuthDecision } from './broker/edge-auth.js';
import { EmbeddedBroker, INTERNAL_CLIENT_ID } from './broker/embedded-broker.js';
import { CloudClient } from './upstream/cloud-client.js';
import { TrustRefresher } from './upstream/refresher.js';
import { CloudStatus, classifyCloudFailure, type CloudStatusView } from './upstream/cloud-status.js';
import { SERVER_VERSION, ensureRegistration, hardwareIdOf, hostnameOf } from './upstream/registration.js';
import { registrationUpdate } from './upstream/registration-update.js';
import { TrustStore } from './upstream/trust-store.js';
import { generateControlToken } from '../../common/http/control-token.js';
import { SiteServerError } from './errors.js';
import { controlApi } from './http/app.js';
import { DEFAULT_EDGE_PORT, SiteServerOptions, type SiteServerDeps, type SiteServerOptionsInput } from './options.js';
import { SiteLogic } from './site/site-logic.js';
import { SupportBundles } from './site/support-bundles.js';
import { loadServerTls } from './tls/server-tls.js';
import { edgeApi } from './edge-api/edge-app.js';
import { loadOfflineLicence } from './edge-api/offline-licence.js';
import { ensureEdgeTls, ensureSigningKey } from './edge-api/site-keys.js';
import { SiteRegistry } from './edge-api/site-registry.js';
import { SiteTokens } from './edge-api/site-tokens.js';
import { BindingReporter } from './upstream/binding-reporter.js';
import { ArtifactCache } from './updates/artifact-cache.js';
import { ArtifactFaults } from './updates/artifact-faults.js';
import { CampaignStore } from './updates/campaign-store.js';
import { ReleaseTrust } from './updates/release-trust.js';
import { UpdateDelivery } from './updates/update-delivery.js';

export { SiteServerError } from './errors.js';
export { SiteServerOptions, type SiteServerOptionsInput } from './options.js';

export interface MockSiteServer {
  /** What edges connect to (the embedded listener, or the external broker's URL). */
  mqttUrl: string;
  /** The control API (on `controlHost`); every route but `/health` needs `Authorization: Bearer <controlToken>`. */
  httpUrl: string;
  /** The edge-facing HTTPS API (issue 15): what `register --site-server` names; register-server's `endpoints.api`. */
  edgeUrl: string;
  /** `sha256:` + hex SHA-256 of the edge listener's SPKI: what a technician compares before trusting the server. */
  fingerprint: string;
  controlToken: string;
  /** True when no token was given and `controlToken` was generated (the CLI then prints it in its ready line). */
  controlTokenGenerated: boolean;
  siteId: string;
  orgId: string;
  /** How the last call to the cloud went (`/health` shows the same). */
  cloudStatus(): CloudStatusView;
  /**
   * Called once if another site server is registered for this site while this one runs. The server has then
   * stopped refreshing and answers `/health` with 503 `replaced`; the CLI closes it and exits 10.
   */
  onReplaced(listener: (message: string) => void): void;
  close(): Promise<void>;
}

function parseOptions(input: SiteServerOptionsInput): SiteServerOptions {
  const parsed = SiteServerOptions.safeParse(input);
  if (!parsed.success) {
    throw new SiteServerError(
      'USAGE',
      parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

function startHttp(
  host: string,
  port: number,
  fetch: (request: Request, env: object) => Response | Promise<Response>,
  tls?: { cert: string; key: string },
): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch,
        port,
        hostname: host,
        ...(tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {}),
      },
      () => resolve(server),
    );
    server.once('error', reject);
  });
}

const startingResponse = (): Response =>
  Response.json({ error: { code: 'UNAVAILABLE', message: 'starting' } }, { status: 503 });

function closeServer(server: ServerType): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

/** The documented port; a caller that asks for ephemeral ports (tests, rigs: `httpPort: 0`) gets one here too. */
function edgePortOf(options: SiteServerOptions): number {
  return options.edgePort ?? (options.httpPort === 0 ? 0 : DEFAULT_EDGE_PORT);
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `--data-dir`, else `<db without extension>.data` beside the database, else a temp dir removed on close. */
function dataDirFor(options: SiteServerOptions): { dir: string; temporary: boolean } {
  if (options.dataDir) return { dir: options.dataDir, temporary: false };
  if (options.db === ':memory:') return { dir: mkdtempSync(join(tmpdir(), 'cst-site-data-')), temporary: true };
  return { dir: join(dirname(options.db), `${basename(options.db, extname(options.db))}.data`), temporary: false };
}

/**
 * A wildcard listen address is no address to call: name the control API by the public host then, as edges must
 * reach its support-bundle upload route on it.
 */
function controlUrlHost(controlHost: string, publicHost: string): string {
  return controlHost === '0.0.0.0' || controlHost === '::' ? publicHost : controlHost;
}

/**
 * The CA bundle the cloud hands to edges it pairs (`config.siteServer.mqtt.caCertificatePem`): the CA of an mqtts
 * broker, and the edge listener's own certificate when it is self-signed. With it an edge paired with a code trusts
 * the edge listener for its requests (artifacts, bundle uploads) without ever seeing a fingerprint, and an mqtts
 * edge never has to send its token over http.
 */
function caBundleFor(
  caPem: string | undefined,
  mqttUrl: string,
  edgeTls: { cert: string; selfSigned: boolean },
): { caCertificatePem?: string } {
  const parts = [
    ...(caPem && (mqttUrl.startsWith('mqtts:') || !edgeTls.selfSigned) ? [caPem.trim()] : []),
    ...(edgeTls.selfSigned ? [edgeTls.cert.trim()] : []),
  ];
  return parts.length ? { caCertificatePem: `${parts.join('\n')}\n` } : {};
}

export async function startMockSiteServer(
  input: SiteServerOptionsInput,
  deps: SiteServerDeps = {},
): Promise<MockSiteServer> {
  const options = parseOptions(input);
  const controlToken = options.controlToken ?? generateControlToken();
  const logger: Logger = deps.logger ?? createLogger({ base: { component: 'mock-site-server' } });
  const tls = loadServerTls(
    { cert: options.tlsCert, key: options.tlsKey, ca: options.tlsCa },
    options.publicHost ?? options.host,
    logger,
  );
  const releaseTrust = ReleaseTrust.load(options.releaseKeys);
  const cleanups: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn('cleanup_failed', { error });
      }
    }
    cleanups.length = 0;
  };

  try {
    const { db } = await openDatabase({ path: options.db, migrations: siteServerMigrations });
    cleanups.push(() => db.close());
    const dataDir = dataDirFor(options);
    if (dataDir.temporary) cleanups.push(() => rmSync(dataDir.dir, { recursive: true, force: true }));
    const store = new TrustStore(db);
    const publicHost = urlHost(options.publicHost ?? options.host);
    const registry = new SiteRegistry(db);
    const signingKey = await ensureSigningKey(db);
    const siteTokens = new SiteTokens(signingKey, options.siteId);
    const licence = options.licenceFile
      ? await loadOfflineLicence(
          { licenceFile: options.licenceFile, licenceKeys: options.licenceKeys },
          { orgId: options.orgId, siteId: options.siteId, signingKey },
        )
      : undefined;
    const edgeTls = ensureEdgeTls(db, tls.identity, options.publicHost ?? options.host);

    // The broker's CONNECT check needs the issuer, known only after registration; until then it answers 3.
    let authenticator: EdgeAuthenticator | undefined;
    const starting: AuthDecision = { ok: false, returnCode: 3, reason: 'the site server is starting' };
    // Once another server is registered for the site, this one admits nobody (3: server unavailable, so edges
    // back off and, after a while, ask the cloud where their site server is now).
    let replaced: AuthDecision | undefined;
    let broker: EmbeddedBroker | undefined;
    let mqttUrl: string;
    if (options.broker === 'embedded') {
      broker = await EmbeddedBroker.start({
        host: options.host,
        port: options.mqttPort,
        siteId: options.siteId,
        maxPayloadBytes: options.maxPayloadBytes,
        logger,
        auth: {
          authenticate: (id, user, pass) =>
            authenticator && !replaced
              ? authenticator.authenticate(id, user, pass)
              : Promise.resolve(replaced ?? starting),
        },
        ...(tls.identity ? { tls: tls.identity } : {}),
      });
      const started = broker;
      cleanups.push(() => started.close());
      mqttUrl = `${broker.secure ? 'mqtts' : 'mqtt'}://${publicHost}:${broker.port}`;
    } else {
      mqttUrl = options.brokerUrl!;
    }

    // The node bindings (`incoming`) travel along: the artifact fault hook destroys the request's socket.
    let handler: ((request: Request, env: object) => Response | Promise<Response>) | undefined;
    const http = await startHttp(options.controlHost, options.httpPort, (request, env) =>
      handler ? handler(request, env) : startingResponse(),
    );
    cleanups.push(() => closeServer(http));
    let edgeHandler: ((request: Request, env: object) => Response | Promise<Response>) | undefined;
    const edgeServer = await startHttp(
      options.edgeHost ?? options.host,
      edgePortOf(options),
      (request, env) => (edgeHandler ? edgeHandler(request, env) : startingResponse()),
      edgeTls,
    );
    cleanups.push(() => closeServer(edgeServer));
    const edgeUrl = `https://${publicHost}:${(edgeServer.address() as AddressInfo).port}`;
    logger.info('edge_listener', {
      edgeUrl,
      fingerprint: edgeTls.fingerprint,
      certificate: edgeTls.selfSigned ? 'self-signed, kept in --db' : '--tls-cert',
      airGapped: licence ? { licences: licence.licenceHashes.size, offline: options.offline } : false,
    });
    const httpUrl = `http://${urlHost(controlUrlHost(options.controlHost, options.publicHost ?? options.host))}:${(http.address() as AddressInfo).port}`;

    const cloud = new CloudClient(options.cloud, options.orgId, options.siteId);
    // The CA travels server → cloud → edge: the cloud hands it to edges it pairs for this mqtts:// URL.
    const endpoints = { api: edgeUrl, mqtt: mqttUrl, ...caBundleFor(tls.caPem, mqttUrl, edgeTls) };
    const registration = await ensureRegistration(options, store, cloud, endpoints, logger, signingKey.publicJwk);
    const cloudStatus = new CloudStatus();
    const update = registrationUpdate(
      store,
      cloud,
      {
        hardwareId: hardwareIdOf(options),
        version: SERVER_VERSION,
        hostname: hostnameOf(options),
        endpoints,
        signingKey: signingKey.publicJwk,
      },
      logger,
    );
    try {
      await update.flush();
    } catch (error) {
      const failure = classifyCloudFailure(error);
      if (failure === 'replaced')
        throw new SiteServerError('REPLACED', `this site server was replaced: ${(error as Error).message}`);
      if (failure === 'refused')
        throw new SiteServerError(
          'REGISTRATION_FAILED',
          `the cloud refused the new endpoints: ${(error as Error).message}`,
        );
      logger.warn('registration_update_pending', {
        error: (error as Error).message,
        note: 'serving on the new endpoints; the cloud is told before every trust refresh until it answers',
      });
    }

    const refresher = new TrustRefresher(
      cloud,
      store,
      registration.siteToken,
      options.refreshSeconds * 1000,
      logger,
      cloudStatus,
      () => update.flush(),
    );
    const first = await refresher.refreshNow();
    if (cloudStatus.current.state === 'replaced')
      throw new SiteServerError('REPLACED', `this site server was replaced: ${cloudStatus.current.lastError}`);
    if (!first.ok) {
      if (!store.jwks())
        throw new SiteServerError(
          'REGISTRATION_FAILED',
          `cannot fetch the cloud's JWKS and none is cached: ${first.error}`,
        );
      logger.warn('cloud_unreachable_using_cache', { edgeListFetchedAt: store.edgeListFetchedAt() ?? null });
    }
    authenticator = new EdgeAuthenticator(store, options.siteId, registration.issuer, refresher, logger, {
      tokens: siteTokens,
      registry,
    });
    const reporter = new BindingReporter(cloud, registration.siteToken, registry, logger);
    const report = () =>
      reporter.flush().catch((error: unknown) =>
        logger.warn('licence_bindings_report_pending', {
          error: (error as Error).message,
          note: 'retried after the next trust refresh',
        }),
      );
    refresher.onRefreshed(report);
    if (first.ok) await report();
    if (broker) {
      const auth = authenticator;
      const b = broker;
      // Sessions outlive the check made at CONNECT: after each refresh, close those that would now be refused.
      refresher.onRefreshed(() =>
        b.kickWhere((claims) => {
          if (claims.exp + EXP_LEEWAY_SECONDS < Date.now() / 1000)
            return { ok: false, reason: 'the token has expired' };
          const standing = auth.standing(claims);
          return standing.ok ? { ok: true } : { ok: false, reason: standing.reason };
        }),
      );
    }
    refresher.start();
    cleanups.push(() => refresher.stop());
    cloudStatus.onReplaced((message) => {
      refresher.stop();
      replaced = { ok: false, returnCode: 3, reason: 'this site server was replaced by another' };
      broker?.kickWhere(() => ({ ok: false, reason: 'this site server was replaced by another' }));
      logger.error('site_server_replaced', {
        error: message,
        note: 'another site server now serves this site; this one stops. Its edges follow the new one by themselves',
      });
    });

    // Updates: campaigns learned after each trust refresh, offered through the site logic once it is connected.
    let logic: SiteLogic | undefined;
    const campaigns = new CampaignStore(db);
    const artifacts = new ArtifactCache(
      join(dataDir.dir, 'updates'),
      cloud,
      registration.siteToken,
      releaseTrust,
      logger,
    );
    const delivery = new UpdateDelivery({
      campaigns,
      artifacts,
      trust: releaseTrust,
      edges: store,
      cloud,
      siteToken: registration.siteToken,
      httpUrl: edgeUrl,
      publish: (edgeId, message) =>
        logic ? logic.publishUpdate(edgeId, message) : Promise.reject(new Error('the site logic is not connected yet')),
      logger,
    });
    logic = await SiteLogic.start({
      url: broker ? broker.internalUrl : mqttUrl,
      clientId: INTERNAL_CLIENT_ID,
      ...(broker
        ? broker.internalCredentials
        : {
            ...(options.brokerUsername ? { username: options.brokerUsername } : {}),
            ...(options.brokerPassword ? { password: options.brokerPassword } : {}),
            ...(tls.caPem ? { ca: tls.caPem } : {}),
          }),
      siteId: options.siteId,
      maxPayloadBytes: options.maxPayloadBytes,
      messageBufferSize: options.messageBufferSize,
      store,
      logger,
      subscribeToEdges: !broker,
      onUpdateState: (edgeId, report) => {
        delivery.report(edgeId, report).catch((error: unknown) => logger.error('update_state_failed', { error }));
      },
    }).catch((error: Error) => {
      throw new SiteServerError('BROKER_UNREACHABLE', `the site logic cannot connect to the broker: ${error.message}`, {
        cause: error,
      });
    });
    const started = logic;
    cleanups.push(() => started.close());
    broker?.recordEdgeMessagesWith((topic, payload, retain) => started.receiveInBroker(topic, payload, retain));
    // The delivery must stop before the site logic (it publishes through it): cleanups run in reverse.
    cleanups.push(() => delivery.close());
    const syncUpdates = () => {
      delivery.sync().catch((error: unknown) => logger.error('update_sync_failed', { error }));
    };
    refresher.onRefreshed(syncUpdates);
    syncUpdates();

    const connected = broker;
    const edgeAuth = authenticator;
    const supportBundles = {
      httpUrl: edgeUrl,
      logic,
      bundles: new SupportBundles(),
      verifyEdgeToken: (edgeId: string, token: string) => edgeAuth.authenticate(edgeId, edgeId, Buffer.from(token)),
    };
    // The artifact route is served on both listeners, as the support-bundle upload is; offers name the edge one.
    const updates = {
      campaigns,
      artifacts,
      delivery,
      artifactFaults: new ArtifactFaults(),
      verifyEdgeToken: supportBundles.verifyEdgeToken,
    };
    const connection = () => ({
      url: edgeUrl,
      mqtt: { url: mqttUrl, ...(endpoints.caCertificatePem ? { caCertificatePem: endpoints.caCertificatePem } : {}) },
    });
    const airGapped = () => licence !== undefined && (options.offline || cloudStatus.current.state === 'unreachable');
    edgeHandler = edgeApi({
      orgId: options.orgId,
      siteId: options.siteId,
      registry,
      logger,
      relay: (body, idempotencyKey) => cloud.relayRegisterEdge(registration.siteToken, body, idempotencyKey),
      cloudJwks: () => store.jwks(),
      ...(licence ? { licence } : {}),
      offline: options.offline,
      tokens: siteTokens,
      connection,
      edgeUrl,
      identity: () => ({
        fingerprint: edgeTls.fingerprint,
        siteId: options.siteId,
        orgId: options.orgId,
        mode: airGapped() ? 'air-gapped' : 'connected',
      }),
      supportBundles,
      updates,
    }).fetch;
    handler = controlApi({
      ...supportBundles,
      edge: { url: edgeUrl, fingerprint: edgeTls.fingerprint, airGapped },
      licenceBindings: () => registry.bindings(),
      ...updates,
      mode: options.broker,
      ...(broker ? { broker } : {}),
      siteId: options.siteId,
      mqttUrl,
      logger,
      store,
      cloudStatus: () => cloudStatus.current,
      controlToken,
      ...(connected ? { connectedEdges: () => connected.connectedEdges() } : {}),
    }).fetch;

    logger.info('site_server_ready', {
      mqttUrl,
      httpUrl,
      edgeUrl,
      fingerprint: edgeTls.fingerprint,
      broker: options.broker,
      siteId: options.siteId,
    });
    let closing: Promise<void> | undefined;
    return {
      mqttUrl,
      httpUrl,
      edgeUrl,
      fingerprint: edgeTls.fingerprint,
      controlToken,
      controlTokenGenerated: options.controlToken === undefined,
      siteId: options.siteId,
      orgId: options.orgId,
      cloudStatus: () => cloudStatus.current,
      onReplaced: (listener) => cloudStatus.onReplaced(listener),
      close: () => (closing ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
