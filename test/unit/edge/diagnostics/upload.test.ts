/** The bundle upload against a real HTTP server on loopback: what is sent, and what is never sent. */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBundle } from '../../../../src/edge/diagnostics/upload.js';

describe('support bundle upload', () => {
  const received: Array<{ headers: IncomingMessage['headers']; body: Buffer }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      const refuse = req.url?.includes('refuse');
      res.writeHead(refuse ? 410 : 201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(refuse ? { error: { code: 'GONE', message: 'already used' } } : { id: 'b-1' }));
    });
  });
  let port = 0;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const data = Buffer.from('bundle bytes');
  const target = { brokerUrl: 'mqtt://127.0.0.1:1883', token: 'the-edge-token' };

  it('PUTs the bundle with the edge token as bearer and its sha256', async () => {
    const answer = await uploadBundle(
      { uploadUrl: `http://127.0.0.1:${port}/u/1`, maxBytes: 1024 },
      data,
      'ab',
      target,
    );
    expect(answer).toEqual({ id: 'b-1' });
    const last = received.at(-1)!;
    expect(last.body.equals(data)).toBe(true);
    expect(last.headers.authorization).toBe('Bearer the-edge-token');
    expect(last.headers['content-type']).toBe('application/gzip');
    expect(last.headers['x-content-sha256']).toBe('ab');
  });

  it('sends nothing to a host other than the site server, nor a bundle over the cap', async () => {
    const before = received.length;
    await expect(
      uploadBundle({ uploadUrl: `http://localhost:${port}/u/2`, maxBytes: 1024 }, data, 'ab', target),
    ).rejects.toThrow(/not the site server/);
    await expect(
      uploadBundle({ uploadUrl: `http://127.0.0.1:${port}/u/3`, maxBytes: 4 }, data, 'ab', target),
    ).rejects.toThrow(/over the 4 bytes/);
    expect(received.length).toBe(before);
  });

  it("reports the site server's refusal with its reason", async () => {
    await expect(
      uploadBundle({ uploadUrl: `http://127.0.0.1:${port}/refuse`, maxBytes: 1024 }, data, 'ab', target),
    ).rejects.toThrow(/410 GONE already used/);
  });
});
