/**
 * Brokers that go wrong, on loopback: certificates that are expired, self-signed, for another host or from a CA
 * the device was not given; a plain port behind mqtts://; a broker that closes during CONNECT; one that never
 * answers CONNACK; MQTT 5 refusals (busy → a long wait, unsupported version → 3.1.1). Each must end as one clear
 * sentence (what `status` shows as lastError) and another attempt later: never a hang, never a crash.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateCerts, type CertPair, type CertSet } from '../../../scripts/gen-certs.js';
import { createLogger } from '../../../src/common/log/log.js';
import { MqttLink } from '../../../src/edge/session/mqtt-link.js';
import { tempDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const PREFIX = 'consystence/v1/sites/00000000-0000-0000-0000-000000000001/edges/orin-bad-01';
let certs: CertSet;
const servers: Server[] = [];
const links: MqttLink[] = [];

beforeAll(() => {
  certs = generateCerts(tempDir('cst-certs-'), { bad: true });
});
afterEach(async () => {
  for (const link of links.splice(0)) await link.stop();
});
afterAll(async () => {
  for (const server of servers) {
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close();
  }
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

/** A TLS listener presenting `pair` that speaks no MQTT: the handshake is all that is tested. */
async function tlsServer(pair: CertPair): Promise<number> {
  const server = createTlsServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key) }, (socket) =>
    socket.on('error', () => {}),
  );
  server.on('tlsClientError', () => {});
  return listen(server as unknown as Server);
}

function startLink(url: string, options: { ca?: string; connectTimeoutMs?: number; protocolVersion?: 4 | 5 } = {}) {
  const errors: string[] = [];
  const scheduled: number[] = [];
  let connects = 0;
  const logger = createLogger({
    level: 'info',
    write: (line) => {
      const record = JSON.parse(line) as { event: string; delayMs?: number };
      if (record.event === 'mqtt_reconnect_scheduled') scheduled.push(record.delayMs!);
    },
  });
  const link = new MqttLink({
    mqtt: { url, topicPrefix: PREFIX, keepaliveSeconds: 30, ...(options.ca ? { caCertificatePem: options.ca } : {}) },
    clientId: 'orin-bad-01',
    password: () => 'token',
    will: { topic: `${PREFIX}/status`, payload: '{}' },
    subscriptions: [],
    logger,
    policy: { baseMs: 100, capMs: 300, minMs: 50, maxHintMs: 60_000 },
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    ...(options.protocolVersion ? { protocolVersion: options.protocolVersion } : {}),
    onConnect: () => connects++,
    onMessage: () => {},
    onAuthRefused: async () => false,
    onState: (state, detail) => {
      if (state === 'offline' && detail.error) errors.push(detail.error);
    },
  });
  links.push(link);
  link.start();
  return { link, errors, scheduled, connects: () => connects };
}

/** Two failed attempts with the same clear message: it backs off and tries again, it does not hang. */
async function failsTwiceWith(probe: ReturnType<typeof startLink>, pattern: RegExp) {
  await waitFor(() => probe.errors.length >= 2, { timeoutMs: 15_000, what: `two failed attempts (${pattern})` });
  expect(probe.errors[0]).toMatch(pattern);
  expect(probe.errors[1]).toMatch(pattern);
  expect(probe.connects()).toBe(0);
}

describe('mqtts certificate checks', () => {
  const ca = () => readFileSync(certs.ca.cert, 'utf8');

  it('refuses an expired certificate', async () => {
    const port = await tlsServer(certs.bad!.expired);
    await failsTwiceWith(
      startLink(`mqtts://localhost:${port}`, { ca: ca() }),
      /the site server's certificate has expired \(CERT_HAS_EXPIRED\)/,
    );
  });

  it('refuses a self-signed certificate', async () => {
    const port = await tlsServer(certs.bad!.selfSigned);
    await failsTwiceWith(
      startLink(`mqtts://localhost:${port}`, { ca: ca() }),
      /self-signed, not issued by the CA this device was given \(DEPTH_ZERO_SELF_SIGNED_CERT\); re-pair/,
    );
  });

  it('refuses a certificate for another host name', async () => {
    const port = await tlsServer(certs.bad!.wrongHost);
    await failsTwiceWith(
      startLink(`mqtts://localhost:${port}`, { ca: ca() }),
      /not issued for localhost \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
    );
  });

  it('trusts only the CA it was given: a good certificate from another CA is refused', async () => {
    const port = await tlsServer(certs.server);
    await failsTwiceWith(
      startLink(`mqtts://127.0.0.1:${port}`, { ca: readFileSync(certs.bad!.otherCa.cert, 'utf8') }),
      /not signed by the CA this device was given \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); re-pair this device/,
    );
  });

  it('says so when mqtts:// points at a plain port', async () => {
    const port = await listen(
      createServer((socket) => {
        socket.on('error', () => {});
        socket.write(Buffer.from('not tls at all\r\n'.repeat(8)));
      }),
    );
    await failsTwiceWith(
      startLink(`mqtts://localhost:${port}`, { ca: ca() }),
      /did not answer TLS|TLS handshake with the site server/,
    );
  });
});

describe('brokers that misbehave during CONNECT', () => {
  it('a broker that accepts and closes during CONNECT', async () => {
    const port = await listen(
      createServer((socket) => {
        socket.on('error', () => {});
        socket.once('data', () => socket.destroy());
      }),
    );
    await failsTwiceWith(
      startLink(`mqtt://127.0.0.1:${port}`),
      /closed the connection during MQTT CONNECT without answering/,
    );
  });

  it('a broker that never answers CONNACK', async () => {
    const held: Socket[] = [];
    const port = await listen(
      createServer((socket) => {
        socket.on('error', () => {});
        held.push(socket);
      }),
    );
    const probe = startLink(`mqtt://127.0.0.1:${port}`, { connectTimeoutMs: 1_000 });
    await failsTwiceWith(probe, /accepted the connection but did not answer MQTT CONNECT within 1 s/);
    for (const socket of held) socket.destroy();
  });

  it('nothing listening: ECONNREFUSED in words', async () => {
    const port = await listen(createServer());
    servers.pop()!.close();
    await failsTwiceWith(
      startLink(`mqtt://127.0.0.1:${port}`),
      /nothing is listening at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });
});

/** A fake broker: answers each CONNECT with `connack(protocolLevel, attempt)` and records the protocol levels seen. */
async function fakeBroker(connack: (level: number, attempt: number) => Buffer) {
  const levels: number[] = [];
  const port = await listen(
    createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (data) => {
        // CONNECT: fixed header byte, remaining length (a varint), "\0\4MQTT", protocol level.
        let at = 1;
        while (data[at]! & 0x80) at++;
        const level = data[at + 1 + 6]!;
        levels.push(level);
        socket.write(connack(level, levels.length));
      });
    }),
  );
  return { port, levels };
}

describe('MQTT 5 refusals', () => {
  it('server busy (0x89): a clear message and a long backoff (≥ 30 s)', async () => {
    const broker = await fakeBroker(() => Buffer.from([0x20, 0x03, 0x00, 0x89, 0x00]));
    const probe = startLink(`mqtt://127.0.0.1:${broker.port}`);
    await waitFor(() => probe.scheduled.length >= 1, { timeoutMs: 10_000, what: 'a scheduled retry' });
    expect(probe.errors[0]).toBe('the site server refused the connection: server busy (CONNACK 0x89)');
    expect(probe.scheduled[0]).toBeGreaterThanOrEqual(30_000);
  });

  it('unsupported protocol version: falls back to 3.1.1 at once and stays there', async () => {
    const broker = await fakeBroker((level) =>
      level === 5 ? Buffer.from([0x20, 0x03, 0x00, 0x84, 0x00]) : Buffer.from([0x20, 0x02, 0x00, 0x00]),
    );
    const probe = startLink(`mqtt://127.0.0.1:${broker.port}`);
    await waitFor(() => probe.connects() === 1, { timeoutMs: 10_000, what: 'a 3.1.1 connection after the refusal' });
    expect(broker.levels).toEqual([5, 4]);
    expect(probe.link.protocolVersion).toBe(4);
    expect(probe.errors).toEqual([]); // a fallback is not a failure a technician needs to see
  });
});
