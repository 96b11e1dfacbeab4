/**
 * The running service's traffic feed for `consystence-edge watch`: a Unix socket in the state dir (owner-only, so
 * only root and the service user can open it) that streams one JSON line per MQTT message. Read-only: a client
 * can send nothing that is acted on, and no second MQTT session is ever made. A slow client loses lines rather
 * than slowing the service (its lines are dropped while its buffer is full).
 */
import { chmodSync, lstatSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../../common/log/log.js';
import type { TrafficLine } from './traffic-summary.js';

export const WATCH_SOCKET = 'watch.sock';
const MAX_CLIENTS = 8;
const MAX_BUFFERED_BYTES = 1024 * 1024;

export function watchSocketPath(stateDir: string): string {
  return join(stateDir, WATCH_SOCKET);
}

export class WatchServer {
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();

  constructor(
    private readonly stateDir: string,
    private readonly logger: Logger,
  ) {}

  get watching(): boolean {
    return this.clients.size > 0;
  }

  async start(): Promise<void> {
    const path = watchSocketPath(this.stateDir);
    this.removeStaleSocket(path);
    const server = createServer((socket) => {
      if (this.clients.size >= MAX_CLIENTS) {
        socket.end(`${JSON.stringify({ error: `at most ${MAX_CLIENTS} watchers at a time` })}\n`);
        return;
      }
      this.clients.add(socket);
      socket.on('data', () => {
        // Nothing a watcher sends is read.
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => this.clients.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    this.server = server;
  }

  publish(line: TrafficLine): void {
    const text = `${JSON.stringify(line)}\n`;
    for (const client of this.clients) if (client.writableLength < MAX_BUFFERED_BYTES) client.write(text);
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.destroy();
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
