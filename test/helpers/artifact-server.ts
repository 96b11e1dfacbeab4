/**
 * A real HTTP server on loopback serving one artifact as the site server's artifact route does: bearer token,
 * `Range: bytes=N-` → 206, 416 past the end, `ETag` = sha256. It counts the bytes it sent and records each
 * request's Range, and can break a response off after some bytes (the link dying mid-download), answer every
 * request with one status (a 503 while the site server is busy, a 410 for a cancelled campaign), or stop listening
 * altogether and come back on the same port (a site link that is down for a while).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';
import { sha256 } from './release.js';

export interface ArtifactServer {
  url: string;
  origin: string;
  bytesSent: number;
  ranges: Array<string | null>;
  /** Next response(s): break the connection after this many body bytes. */
  dropAfter: number | null;
  /** Next response(s): ignore Range and answer 200 with the whole artifact. */
  ignoreRange: boolean;
  /** Serve these bytes instead (same headers): a server that serves something else. */
  body: Buffer;
  etag: string | null;
  /** Answer every request with this status and no body (after the token check). */
  status: number | null;
  close(): Promise<void>;
  /** Stop listening: connections are refused until `accept`. */
  refuse(): Promise<void>;
  /** Listen again on the same port. */
  accept(): Promise<void>;
}

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

export async function startArtifactServer(artifact: Buffer, token: string): Promise<ArtifactServer> {
  let port = 0;
  const state: ArtifactServer = {
    url: '',
    origin: '',
    bytesSent: 0,
    ranges: [],
    dropAfter: null,
    ignoreRange: false,
    body: artifact,
    etag: `"${sha256(artifact)}"`,
    status: null,
    close: () => new Promise((r) => server.close(() => r())),
    refuse: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    accept: () => new Promise((r) => server.listen(port, '127.0.0.1', r)),
  };
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    const range = req.headers.range ?? null;
    state.ranges.push(range);
    if (state.status !== null) {
      res.writeHead(state.status).end();
      return;
    }
    const body = state.body;
    let start = 0;
    if (range && !state.ignoreRange) {
      start = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
    }
    const part = body.subarray(start);
    const headers: Record<string, string> = { 'content-length': String(part.length) };
    if (state.etag) headers.etag = state.etag;
    if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    const limit = state.dropAfter;
    if (limit !== null && limit < part.length) {
      res.write(part.subarray(0, limit), () => {
        state.bytesSent += limit;
        // A dead link: the socket goes away mid-body.
        setTimeout(() => res.socket?.destroy(), 50);
      });
      return;
    }
    state.bytesSent += part.length;
    res.end(part);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ({ port } = server.address() as AddressInfo);
  state.origin = `http://127.0.0.1:${port}`;
  state.url = `${state.origin}/api/edge/updates/00000000-0000-4000-8000-000000000001/artifact`;
  return state;
}
