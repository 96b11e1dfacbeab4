/**
 * DNS rebinding against the producer API (issue 18.10): a page on the device that makes its own name resolve to
 * 127.0.0.1 reaches the API with `Host: <its name>` and `Origin: http://<its name>`. Raw requests over a real
 * loopback socket, so the headers are exactly what an attacker would send; a refused request stores nothing.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../../src/edge/outbox/index.js';
import { isLoopbackHost, startProducerServer } from '../../../src/edge/producer/server.js';
import { openDatabase } from '../../../src/storage/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { fixtureMigrations } from './fixtures/open-outbox.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup() {
  const { db } = await openDatabase({ path: join(tempDir(), 'edge.db'), migrations: fixtureMigrations });
  const outbox = new Outbox(db, { limits: { maxSizeMb: 64, retentionDays: 30 }, sweepIntervalMs: 0 });
  const server = await startProducerServer({ outbox, port: 0 });
  cleanup.push(
    () => {
      outbox.close();
      db.close();
    },
    () => server.close(),
  );
  return { outbox, port: server.port! };
}

const BODY = JSON.stringify({ records: [{ tag: 't.x', ts: '2026-03-01T10:00:00Z', value: 1 }] });

/** Sends the request bytes as written and returns the status line's code (bounded by a 10 s timer). */
function rawPost(port: number, headerLines: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 10 s'));
    }, 10_000);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (match) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.write(
      [
        'POST /v1/telemetry HTTP/1.1',
        ...headerLines,
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(BODY)}`,
        'Connection: close',
        '',
        BODY,
      ].join('\r\n'),
    );
  });
}

describe('producer API: loopback host names only (DNS rebinding)', () => {
  it('serves localhost, 127.0.0.1 and [::1] with the port, and browsers from a loopback origin', async () => {
    const { outbox, port } = await setup();
    expect(await rawPost(port, [`Host: 127.0.0.1:${port}`])).toBe(202);
    expect(await rawPost(port, [`Host: localhost:${port}`])).toBe(202);
    expect(await rawPost(port, ['Host: [::1]'])).toBe(202);
    expect(await rawPost(port, [`Host: LOCALHOST:${port}`, `Origin: http://localhost:${port}`])).toBe(202);
    expect(outbox.stats().depth).toBe(4);
  });

  it('refuses any other Host, a missing Host, and any Origin that is not loopback; nothing is stored', async () => {
    const { outbox, port } = await setup();
    expect(await rawPost(port, [`Host: evil.example:${port}`])).toBe(421);
    expect(await rawPost(port, ['Host: 127.0.0.1.nip.io'])).toBe(421);
    expect(await rawPost(port, ['Host: localhost.evil.example'])).toBe(421);
    expect(await rawPost(port, ['Host: 10.0.0.5:8719'])).toBe(421);
    expect(await rawPost(port, [])).toBe(400); // HTTP/1.1 without Host: node refuses it before the handler
    expect(await rawPost(port, [`Host: 127.0.0.1:${port}`, 'Origin: http://evil.example'])).toBe(403);
    expect(await rawPost(port, [`Host: 127.0.0.1:${port}`, 'Origin: null'])).toBe(403);
    expect(await rawPost(port, [`Host: 127.0.0.1:${port}`, 'Origin: http://localhost.evil.example'])).toBe(403);
    expect(outbox.stats().depth).toBe(0);
  });

  it('recognises loopback names exactly', () => {
    for (const ok of ['localhost', 'localhost:8719', '127.0.0.1', '127.0.0.1:1', '[::1]', '[::1]:8719'])
      expect(isLoopbackHost(ok), ok).toBe(true);
    for (const bad of ['evil.example', 'localhost.evil', '127.0.0.2', '::1', 'user@localhost', '', 'localhost:'])
      expect(isLoopbackHost(bad), bad).toBe(false);
  });
});
