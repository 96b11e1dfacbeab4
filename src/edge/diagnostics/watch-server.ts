/**
 * The running service's traffic feed for `consystence-edge watch`: a Unix socket in the state dir (owner-only, so
 * only root and the service user can open it) that streams one JSON line per MQTT message. Read-only: a client
 * can send nothing that is acted on, and no second MQTT session is ever made. A client can never stop or slow the
 * service: every socket's errors are handled (a client that resets is just dropped), and a client that does not
 * read is disconnected once its unsent lines pass a cap, which frees its slot. At the limit a new watcher is
 * refused with a busy line (the `watch` CLI prints it plainly); the oldest watcher is not evicted, so a script
 * that reconnects in a loop cannot throw a technician's live session off.
 */
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../../common/log/log.js';
import type { TrafficLine } from './traffic-summary.js';

export const WATCH_SOCKET = 'watch.sock';
export const MAX_WATCHERS = 8;
/** Unsent bytes a watcher may have queued before it is dropped as not reading (the kernel buffers more first). */
export const MAX_UNSENT_BYTES = 256 * 1024;
/** The first and only line a refused watcher gets. */
export const WATCH_BUSY = { error: 'busy', message: `${MAX_WATCHERS} watch sessions are already open; close one` };

export function watchSocketPath(stateDir: string): string {
  return join(stateDir, WATCH_SOCKET);
}

export class WatchServer {
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();
  /** Every open connection, refused ones included, so that `close` ends them all. */
  private readonly connections = new Set<Socket>();

  constructor(
    private readonly stateDir: string,
    private readonly logger: Logger,
  ) {}

  get watching(): boolean {
    return this.clients.size > 0;
  }

  get watchers(): number {
    return this.clients.size;
  }

  async start(): Promise<void> {
    const path = watchSocketPath(this.stateDir);
    this.removeStaleSocket(path);
    const server = createServer((socket) => {
      // Before anything else: an unhandled socket error (a client that resets) would end the whole service.
      socket.on('error', () => socket.destroy());
      this.connections.add(socket);
      socket.on('close', () => {
        this.connections.delete(socket);
        this.clients.delete(socket);
      });
      socket.on('data', () => {
        // Nothing a watcher sends is read.
      });
      if (this.clients.size >= MAX_WATCHERS) {
        socket.end(`${JSON.stringify(WATCH_BUSY)}\n`);
        return;
      }
      this.clients.add(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    server.on('error', (error) => this.logger.warn('watch_socket_error', { error }));
    this.server = server;
  }

  publish(line: TrafficLine): void {
    const text = `${JSON.stringify(line)}\n`;
    for (const client of this.clients) {
      if (client.writableLength <= MAX_UNSENT_BYTES) {
        client.write(text);
        continue;
      }
      this.clients.delete(client);
      client.destroy();
      this.logger.info('watch_client_dropped', { reason: `not reading: over ${MAX_UNSENT_BYTES} bytes unsent` });
    }
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    this.clients.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A socket left by a killed service is removed; anything else at that path (a file, a link) is refused. */
  private removeStaleSocket(path: string): void {
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return;
    }
    if (!isSocket) throw new Error(`${path} exists and is not a socket; remove it`);
    rmSync(path);
    this.logger.debug('watch_socket_stale_removed', { path });
  }
}
