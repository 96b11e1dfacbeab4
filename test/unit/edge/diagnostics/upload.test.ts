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
  const target = () => ({
    siteUrl: `http://127.0.0.1:${port}`,
    brokerUrl: 'mqtt://127.0.0.1:1883',
    token: 'the-edge-token',
  });

  it('PUTs the bundle with the edge token as bearer and its sha256', async () => {
    const answer = await uploadBundle(
      { uploadUrl: `http://127.0.0.1:${port}/u/1`, maxBytes: 1024 },
      data,
      'ab',
      target(),
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
      uploadBundle({ uploadUrl: `http://localhost:${port}/u/2`, maxBytes: 1024 }, data, 'ab', target()),
    ).rejects.toThrow(/not on the site server/);
    await expect(
      uploadBundle({ uploadUrl: `http://127.0.0.1:${port}/u/3`, maxBytes: 4 }, data, 'ab', target()),
    ).rejects.toThrow(/over the 4 bytes/);
    expect(received.length).toBe(before);
  });

  it('sends the token only to the site origin: not another port, not userinfo, not http beside mqtts', async () => {
    // A second server on loopback, another port: what the tester's listener was.
    const other = createServer((req, res) => {
      stolen.push(req.headers.authorization ?? '');
      res.end('{"id":"x"}');
    });
    const stolen: string[] = [];
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const otherPort = (other.address() as AddressInfo).port;
    try {
      const refused = [
        `http://127.0.0.1:${otherPort}/x`,
        `http://127.0.0.1:${port}@127.0.0.1:${otherPort}/b`,
        `http://2130706433:${otherPort}/d`,
        `http://user:pw@127.0.0.1:${port}/u/4`,
        `https://127.0.0.1:${port}/u/5`,
      ];
      for (const uploadUrl of refused)
        await expect(uploadBundle({ uploadUrl, maxBytes: 1024 }, data, 'ab', target()), uploadUrl).rejects.toThrow(
          /the edge token is not sent there/,
        );
      await expect(
        uploadBundle({ uploadUrl: `http://127.0.0.1:${port}/u/6`, maxBytes: 1024 }, data, 'ab', {
          ...target(),
          brokerUrl: 'mqtts://127.0.0.1:8883',
        }),
      ).rejects.toThrow(/not https while the link to the site server is mqtts/);
      expect(stolen).toEqual([]);
      // The same origin written differently is the site server: 2130706433 is 127.0.0.1.
      await expect(
        uploadBundle({ uploadUrl: `http://2130706433:${port}/u/7`, maxBytes: 1024 }, data, 'ab', target()),
      ).resolves.toEqual({ id: 'b-1' });
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it("reports the site server's refusal with its reason", async () => {
    await expect(
      uploadBundle({ uploadUrl: `http://127.0.0.1:${port}/refuse`, maxBytes: 1024 }, data, 'ab', target()),
    ).rejects.toThrow(/410 GONE already used/);
  });
});
