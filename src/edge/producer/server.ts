/**
 * The local producer API: on-device applications enqueue telemetry and events over loopback HTTP or a Unix socket.
 *
 *   POST /v1/telemetry | /v1/events  {records:[…], durable?}  → 202 {seq,lastSeq} once committed
 *   GET  /v1/status                                          → 200 {queue:{depth,bytes,oldestTs,dropped}}
 *
 * Errors use the contract's body `{error:{code,message,details?}}`. Everything a client sends is untrusted: bodies
 * are capped while streaming, parsed with zod, and no input can throw past the request handler.
 * node:http only, so the same code runs on Node and Bun.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpError } from '../../common/http/http-error.js';
import { detailsFromZod, errorBody } from '../../protocol/errors.js';
import { silentLogger, type Logger } from '../../common/log/log.js';
import type { Outbox } from '../outbox/outbox.js';
import { OutboxError, type OutboxChannel } from '../outbox/types.js';
import { MAX_PRODUCER_BODY_BYTES, PRODUCER_DEFAULT_PORT, ProduceRequest } from './schema.js';
import { claimSocketPath, withSocketUmask } from './socket-path.js';

export interface ProducerServerOptions {
  outbox: Outbox;
  /** Listen on this Unix socket (mode 0660) instead of TCP; refused if the path holds anything but a stale socket. */
  socketPath?: string;
  /** TCP port on 127.0.0.1 (default 8719; 0 picks a free one). Ignored with socketPath. */
  port?: number;
  logger?: Logger;
}

export interface ProducerServer {
  /** `http://127.0.0.1:<port>` or `unix:<path>`. */
  readonly address: string;
  readonly port: number | null;
  close(): Promise<void>;
}

const ROUTES: Record<string, OutboxChannel> = { '/v1/telemetry': 'telemetry', '/v1/events': 'events' };

export async function startProducerServer(options: ProducerServerOptions): Promise<ProducerServer> {
  const logger = options.logger ?? silentLogger;
  const server = createServer((req, res) => {
    handle(options.outbox, req, res, options.socketPath !== undefined).catch((error: unknown) => {
      const known = error instanceof HttpError ? error : null;
      if (!known) logger.error('producer.request_failed', { error, path: req.url });
      send(res, known?.status ?? 500, known?.body ?? errorBody('INTERNAL_ERROR', 'internal error'));
    });
  });
  // Slow or stuck local clients must not pin sockets forever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await listen(server, options);
  const tcp = options.socketPath ? null : (server.address() as AddressInfo).port;
  return {
    address: tcp === null ? `unix:${options.socketPath}` : `http://127.0.0.1:${tcp}`,
    port: tcp,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function listen(server: Server, options: ProducerServerOptions): Promise<void> {
  if (options.socketPath) await claimSocketPath(options.socketPath);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (options.socketPath) {
      // bind() happens inside listen(), before it returns: the umask gives the socket its mode as it is created.
      const path = options.socketPath;
      withSocketUmask(() => server.listen(path, done));
    } else {
      // Loopback only: the API has no authentication, so it must never be reachable from the site network.
      server.listen(options.port ?? PRODUCER_DEFAULT_PORT, '127.0.0.1', done);
    }
  });
}

/** Host names a loopback client uses for this API: a DNS-rebinding page on the device arrives under its own name. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `localhost`, `127.0.0.1` or `[::1]`, with or without a port (nothing else: no other name, no user info). */
export function isLoopbackHost(value: string): boolean {
  const match = /^(\[[^\]]*\]|[^:]+)(?::(\d{1,5}))?$/.exec(value.trim().toLowerCase());
  return !!match && LOOPBACK_HOSTS.has(match[1]!);
}

/**
 * DNS rebinding: a web page on the device (a kiosk browser, an HMI) can make its own host name resolve to
 * 127.0.0.1 and then post here with `Host: evil.example`. Only loopback names are served, and a request from a
 * browser (which always sends `Origin` on a POST) must come from a loopback origin. A Unix socket has no host
 * names to rebind; curl and SDKs over it send `Host: localhost` anyway.
 */
function checkLoopbackRequest(req: IncomingMessage, unixSocket: boolean): void {
  const host = req.headers.host;
  if (!unixSocket && (host === undefined || !isLoopbackHost(host)))
    throw new HttpError(421, 'FORBIDDEN', 'this API answers only to localhost, 127.0.0.1 or [::1]');
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let originHost: string | null = null;
  try {
    const url = new URL(origin);
    if (url.protocol === 'http:' || url.protocol === 'https:') originHost = url.host;
  } catch {
    originHost = null;
  }
  if (originHost === null || !isLoopbackHost(originHost))
    throw new HttpError(403, 'FORBIDDEN', 'requests from web pages that are not served from this device are refused');
}

async function handle(outbox: Outbox, req: IncomingMessage, res: ServerResponse, unixSocket: boolean): Promise<void> {
  checkLoopbackRequest(req, unixSocket);
  const path = new URL(req.url ?? '/', 'http://local').pathname;
  if (path === '/v1/status') {
    if (req.method !== 'GET') throw new HttpError(405, 'VALIDATION_ERROR', 'use GET');
    send(res, 200, { queue: outbox.stats() });
    return;
  }
  const channel = ROUTES[path];
  if (!channel) throw new HttpError(404, 'NOT_FOUND', `no route ${path}`);
  if (req.method !== 'POST') throw new HttpError(405, 'VALIDATION_ERROR', 'use POST');
  // A browser on the device cannot send application/json cross-origin without a preflight we never answer.
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
    throw new HttpError(415, 'VALIDATION_ERROR', 'Content-Type must be application/json');

  const text = await readBody(req);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'VALIDATION_ERROR', 'the body is not valid JSON');
  }
  const body = ProduceRequest.safeParse(json);
  if (!body.success)
    throw new HttpError(400, 'VALIDATION_ERROR', 'invalid request body', detailsFromZod(body.error).slice(0, 100));
  try {
    const result = await outbox.enqueue(channel, body.data.records, body.data.durable ? { durable: 'now' } : {});
    send(res, 202, result);
  } catch (error) {
    if (error instanceof OutboxError && error.code === 'INVALID_INPUT')
      throw new HttpError(400, 'VALIDATION_ERROR', error.message, error.details);
    if (error instanceof OutboxError) throw new HttpError(503, 'UNAVAILABLE', `not stored: ${error.message}`);
    throw error;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_PRODUCER_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size > MAX_PRODUCER_BODY_BYTES) {
        // Stop buffering at once; the 413 is still answered before the connection is closed.
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      parts.push(part);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

const tooLarge = () => new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${MAX_PRODUCER_BODY_BYTES} bytes`);

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  res.end(text);
}
