/**
 * The embedded broker: aedes behind two TCP listeners. The public listener is what edges use (and what the
 * listener fault stops); the internal one, on loopback with a random per-process password, is where the site
 * logic connects as the privileged client, so stopping the public listener never cuts the server off from itself.
 * With `tls`, the public listener is mqtts; the internal one stays plain, since it is loopback-only and guarded by
 * a per-process secret, and TLS there would only cost the site logic a handshake per reconnect.
 * Every hook catches its own errors: one client's garbage can close that client, never the broker.
 *
 * Edge messages are handed to the site logic (`recordEdgeMessagesWith`) inside `authorizePublish`, the last hook
 * before aedes writes the PUBACK: a PUBACK then means the site has the message, and until a recorder is set an
 * edge's PUBLISH is refused (its connection closed, no PUBACK), so the edge keeps it and sends it again.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../../../common/log/log.js';
import type { EdgeTokenClaims } from '../../../protocol/index.js';
import { TLS_CIPHERS } from '../../../common/tls/ciphers.js';
import { edgeMayPublish, edgeMaySubscribe } from './acl.js';
import type { AuthDecision } from './edge-auth.js';
import { FaultState } from './faults.js';
import { guardSocket } from './packet-guard.js';

export const INTERNAL_CLIENT_ID = '_site-server';
/** Room for the topic and header around the largest allowed payload. */
const PACKET_OVERHEAD_BYTES = 4096;
/** A client that opens TCP and never finishes the TLS handshake is dropped after this (Node's default is 120 s). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  siteId: string;
  maxPayloadBytes: number;
  auth: Authenticator;
  logger: Logger;
  /** PEM certificate and key: the public listener speaks MQTT over TLS. */
  tls?: { cert: string; key: string };
}

/** The CONNECT check; the site server plugs in `EdgeAuthenticator` once its registration is known. */
export interface Authenticator {
  authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<AuthDecision>;
}

/** Takes one edge message (its own publishes and its will) before the edge gets its PUBACK; must not throw. */
export type EdgeMessageRecorder = (topic: string, payload: Buffer, retain: boolean) => void;

interface Session {
  client: Client;
  claims: EdgeTokenClaims;
}

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export class EmbeddedBroker {
  readonly faults = new FaultState();
  readonly internalCredentials = { username: INTERNAL_CLIENT_ID, password: randomBytes(32).toString('base64url') };
  private readonly sessions = new Map<string, Session>();
  private readonly sessionOf = new WeakMap<Client, Session>();
  private readonly privileged = new WeakSet<Client>();
  private readonly internalStreams = new WeakSet<object>();
  private readonly publicSockets = new Set<Socket>();
  private publicServer: Server | undefined;
  private internalServer: Server | undefined;
  private publicPort = 0;
  private internalPort = 0;
  private recorder: EdgeMessageRecorder | undefined;

  private constructor(
    private readonly aedes: Aedes,
    private readonly options: EmbeddedBrokerOptions,
  ) {}

  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    // Edge ids are up to 63 characters; aedes' default limit on client ids is 23.
    const aedes = await Aedes.createBroker({ maxClientsIdLength: 128, connectTimeout: 10_000 });
    const broker = new EmbeddedBroker(aedes, options);
    broker.installHooks();
    broker.internalServer = createServer((socket) => broker.accept(socket, true));
    broker.internalPort = await listen(broker.internalServer, 0, '127.0.0.1');
    await broker.startListener(options.port);
    return broker;
  }

  get port(): number {
    return this.publicPort;
  }

  get secure(): boolean {
    return this.options.tls !== undefined;
  }

  get internalUrl(): string {
    return `mqtt://127.0.0.1:${this.internalPort}`;
  }

  get listening(): boolean {
    return this.publicServer?.listening ?? false;
  }

  recordEdgeMessagesWith(recorder: EdgeMessageRecorder): void {
    this.recorder = recorder;
  }

  connectedEdges(): string[] {
    return [...this.sessions.keys()];
  }

  /** (Re)opens the public listener; the first start picks the port, later starts reuse it so edges find it. */
  async startListener(port = this.publicPort): Promise<void> {
    if (this.publicServer?.listening) return;
    const server = this.createPublicServer();
    this.publicPort = await listen(server, port, this.options.host);
    this.publicServer = server;
  }

  /**
   * Sockets are tracked at TCP accept ('connection', before any TLS handshake): destroying the raw socket also
   * closes its TLS socket, and a client stuck mid-handshake is cut too, so `stopListener` never waits on one.
   */
  private createPublicServer(): Server {
    const accept = (socket: Socket) => this.accept(socket, false);
    const tls = this.options.tls;
    const server = tls
      ? createTlsServer(
          {
            cert: tls.cert,
            key: tls.key,
            minVersion: 'TLSv1.2',
            ciphers: TLS_CIPHERS,
            handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
          },
          accept,
        )
      : createServer(accept);
    server.on('connection', (raw: Socket) => {
      raw.on('error', () => {}); // resets are normal; a TLS failure is reported through tlsClientError
      this.publicSockets.add(raw);
      raw.on('close', () => this.publicSockets.delete(raw));
    });
    // A client that distrusts our certificate aborts the handshake: worth a line, since the edge's side says why.
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      this.options.logger.info('tls_handshake_failed', {
        remote: socket.remoteAddress,
        code: error.code,
        reason: error.message,
      });
    });
    return server;
  }

  /** Closes the public listener and every connection made through it, as a broker outage would. */
  async stopListener(): Promise<void> {
    const server = this.publicServer;
    this.publicServer = undefined;
    for (const socket of this.publicSockets) socket.destroy();
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Drops one edge's connection (its LWT fires). Returns false if it was not connected. */
  dropEdge(edgeId: string): boolean {
    const session = this.sessions.get(edgeId);
    if (!session) return false;
    session.client.close();
    return true;
  }

  dropAll(): number {
    const clients = [...this.sessions.values()];
    for (const { client } of clients) client.close();
    return clients.length;
  }

  /** Closes the sessions of edges that no longer pass `stillAllowed` (after a trust refresh). */
  kickWhere(stillAllowed: (claims: EdgeTokenClaims) => { ok: boolean; reason?: string }): string[] {
    const kicked: string[] = [];
    for (const [edgeId, session] of this.sessions) {
      const verdict = stillAllowed(session.claims);
      if (!verdict.ok) {
        this.options.logger.info('edge_kicked', { edgeId, reason: verdict.reason });
        session.client.close();
        kicked.push(edgeId);
      }
    }
    return kicked;
  }

  async close(): Promise<void> {
    await this.stopListener();
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    const internal = this.internalServer;
    if (internal?.listening) await new Promise<void>((resolve) => internal.close(() => resolve()));
  }

  private accept(socket: Socket, internal: boolean): void {
    socket.on('error', () => {}); // resets are normal; aedes reports what matters through clientError
    const stream = guardSocket(socket, this.options.maxPayloadBytes + PACKET_OVERHEAD_BYTES, (reason) => {
      this.options.logger.warn('connection_cut', { remote: socket.remoteAddress, reason });
    });
    if (internal) this.internalStreams.add(stream);
    this.aedes.handle(stream);
  }

  private isInternalPassword(username: string | undefined, password: Buffer | undefined): boolean {
    if (username !== this.internalCredentials.username || !password) return false;
    const expected = Buffer.from(this.internalCredentials.password);
    return password.length === expected.length && timingSafeEqual(password, expected);
  }

  private installHooks(): void {
    const { aedes, options } = this;
    const log = options.logger;

    aedes.authenticate = (client, username, password, done) => {
      const onInternal = this.internalStreams.has(client.conn);
      if (onInternal || client.id === INTERNAL_CLIENT_ID) {
        // The privileged identity exists only on the loopback listener, and only with this process's secret.
        if (onInternal && client.id === INTERNAL_CLIENT_ID && this.isInternalPassword(username, password)) {
          this.privileged.add(client);
          return done(null, true);
        }
        return done(authError(5, 'not authorised'), null);
      }
      const planned = this.faults.takeConnectRefusal();
      if (planned !== undefined) {
        log.info('connect_refused_by_fault', { clientId: client.id, returnCode: planned });
        return done(authError(planned, 'refused by fault injection'), null);
      }
      options.auth.authenticate(client.id, username, password).then(
        (decision) => {
          if (!decision.ok) {
            log.info('connect_refused', {
              clientId: client.id,
              returnCode: decision.returnCode,
              reason: decision.reason,
            });
            return done(authError(decision.returnCode, decision.reason), null);
          }
          this.sessionOf.set(client, { client, claims: decision.claims });
          done(null, true);
        },
        (error: unknown) => {
          log.error('authenticate_failed', { clientId: client.id, error });
          done(authError(3, 'server unavailable'), null);
        },
      );
    };

    aedes.on('clientReady', (client) => {
      const session = this.sessionOf.get(client);
      if (!session) return;
      this.sessions.set(client.id, session);
      log.info('edge_connected', { edgeId: client.id });
    });
    aedes.on('clientDisconnect', (client) => {
      if (this.sessions.get(client.id)?.client === client) {
        this.sessions.delete(client.id);
        log.info('edge_disconnected', { edgeId: client.id });
      }
    });
    aedes.on('clientError', (client, error) => log.debug('client_error', { clientId: client.id, error }));
    aedes.on('connectionError', (_client, error) => log.info('connection_error', { error }));

    aedes.authorizePublish = (client, packet, callback) => {
      if (client === null || this.privileged.has(client)) return callback(null);
      const session = this.sessionOf.get(client);
      if (!session) return callback(new Error('not authenticated'));
      if (packet.payload.length > options.maxPayloadBytes) {
        log.warn('publish_too_large', {
          edgeId: client.id,
          bytes: packet.payload.length,
          max: options.maxPayloadBytes,
        });
        return callback(new Error('payload too large'));
      }
      if (!edgeMayPublish(options.siteId, session.claims.edge, packet.topic)) {
        // MQTT 3.1.1 has no negative PUBACK: the only clear refusal is closing the connection.
        log.warn('acl_publish_denied', { edgeId: client.id, topic: packet.topic.slice(0, 256) });
        return callback(new Error('not authorised to publish there'));
      }
      const deliver = () => {
        if (!this.recorder) return callback(new Error('the site server is not ready to record messages'));
        this.recorder(packet.topic, packet.payload as Buffer, packet.retain);
        callback(null);
      };
      const paused = this.faults.whenDelivering();
      if (paused) paused.then(deliver, deliver);
      else deliver();
    };

    aedes.authorizeSubscribe = (client, subscription, callback) => {
      if (this.privileged.has(client)) return callback(null, subscription);
      const session = this.sessionOf.get(client);
      if (session && edgeMaySubscribe(options.siteId, session.claims.edge, subscription.topic))
        return callback(null, subscription);
      log.warn('acl_subscribe_denied', { edgeId: client.id, filter: subscription.topic.slice(0, 256) });
      callback(null, null); // SUBACK 0x80 for this filter; the connection stays
    };
  }
}
