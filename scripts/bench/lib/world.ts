/**
 * The world the device benches run in, all on loopback: mosquitto (the one broker every client in a comparison
 * talks to), the mock cloud (in this process), a site whose mock site server runs in external-broker mode
 * against that mosquitto (so edges are told to connect there at pairing), and an observer subscribed to every
 * edge's status topic, which timestamps each status message as it arrives.
 *
 * Why mosquitto and not the site server's embedded aedes broker: the three clients compared (the edge, a bare
 * mqtt.js script, mosquitto_pub) must see the same broker doing the same work, and the observer must not share an
 * event loop with the broker. mosquitto runs anonymous (no password file, no ACL): every client still sends the
 * edge's own CONNECT (clientId = username = edgeId, password = its current edge token), but no client pays for
 * token verification, so the comparison is of the clients alone.
 */
import { PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { createLogger } from '../../../src/common/log/log.js';
import {
  DEMO_ORG_ID,
  DEMO_PASSWORD,
  DEMO_USERS,
  MockCloudClient,
  startMockCloud,
} from '../../../src/mock/cloud/index.js';
import { startMockSiteServer, type MockSiteServer } from '../../../src/mock/site-server/index.js';
import { freePort } from '../../../src/hil/bed/ports.js';
import { sleep } from '../../../src/common/time/sleep.js';
import { runToEnd } from './proc.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

export interface Mosquitto {
  port: number;
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startMosquitto(dir: string): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO))
    throw new Error(`mosquitto is not installed at ${MOSQUITTO} (apt-get install -y mosquitto mosquitto-clients)`);
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const conf = join(dir, `mosquitto-${port}.conf`);
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        `user ${userInfo().username}`,
        'max_inflight_messages 0',
        'max_queued_messages 0',
        'log_dest none',
        '',
      ].join('\n'),
    );
    const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    let exited = false;
    const exit = new Promise<void>((r) =>
      proc.once('exit', () => {
        exited = true;
        r();
      }),
    );
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      if (await canConnect(port)) {
        return {
          port,
          url: `mqtt://127.0.0.1:${port}`,
          proc,
          async stop() {
            if (exited) return;
            proc.kill('SIGTERM');
            const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
            await exit;
            clearTimeout(t);
          },
        };
      }
      await sleep(50);
    }
    proc.kill('SIGKILL');
  }
  throw new Error('mosquitto did not start');
}

export interface StatusSeen {
  edgeId: string;
  json: Record<string, unknown>;
  at: number;
}

/** Subscribes to `consystence/v1/sites/<site>/edges/+/status` and timestamps (performance.now()) every message. */
export class StatusObserver {
  readonly seen: StatusSeen[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(private readonly client: MqttClient) {}

  static async connect(port: number, siteId: string): Promise<StatusObserver> {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocol: 'mqtt',
      clientId: `bench-observer-${process.pid}`,
      reconnectPeriod: 500,
    });
    const observer = new StatusObserver(client);
    const prefix = `consystence/v1/sites/${siteId}/edges/`;
    client.on('message', (topic, payload) => {
      const at = performance.now();
      if (!topic.startsWith(prefix) || !topic.endsWith('/status')) return;
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      observer.seen.push({ edgeId: topic.slice(prefix.length, -'/status'.length), json, at });
      if (observer.seen.length > 100_000) observer.seen.splice(0, 50_000);
      for (const w of observer.waiters) w();
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () =>
        client.subscribe(`${prefix}+/status`, { qos: 1 }, (error) => (error ? reject(error) : resolve())),
      );
      client.once('error', reject);
    });
    return observer;
  }

  /** The first status from `edgeId` at or after `since` (performance.now()) matching `match`. */
  waitFor(
    edgeId: string,
    since: number,
    match: (json: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<StatusSeen> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.seen.find((s) => s.edgeId === edgeId && s.at >= since && match(s.json));
        if (found) finish(() => resolve(found));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no matching status from ${edgeId} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn();
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.client.end(true, {}, () => resolve()));
  }
}

export interface World {
  work: string;
  mosquitto: Mosquitto;
  cloudUrl: string;
  admin: MockCloudClient;
  siteId: string;
  siteServer: MockSiteServer;
  observer: StatusObserver;
  /** A fresh pairing URI for `edgeId`. */
  pairingUri(edgeId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startWorld(label: string): Promise<World> {
  const work = mkdtempSync(join(tmpdir(), `cst-bench-${label}-`));
  const quiet = createLogger({ level: 'error' });
  const stoppers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const mosquitto = await startMosquitto(work);
    stoppers.push(() => mosquitto.stop());
    const cloud = await startMockCloud({ logger: quiet, edgeTokenTtlSeconds: 24 * 3600 });
    stoppers.push(() => cloud.close());
    const admin = new MockCloudClient(cloud.url);
    await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
    const slug = `bench-${label}-${randomUUID().slice(0, 6)}`;
    const site = await admin.createSite(DEMO_ORG_ID, { name: `Bench ${slug}`, slug, timezone: 'UTC' });
    const serverCode = await admin.createPairingCode(DEMO_ORG_ID, site.id, { purpose: 'server' });
    const siteServer = await startMockSiteServer(
      {
        cloud: cloud.url,
        orgId: DEMO_ORG_ID,
        siteId: site.id,
        code: serverCode.code,
        httpPort: 0,
        broker: 'external',
        brokerUrl: mosquitto.url,
        hardwareId: `bench-site-server-${site.id}`,
        db: join(work, 'site-server.db'),
      },
      { logger: quiet },
    );
    stoppers.push(() => siteServer.close());
    const observer = await StatusObserver.connect(mosquitto.port, site.id);
    stoppers.push(() => observer.close());
    return {
      work,
      mosquitto,
      cloudUrl: cloud.url,
      admin,
      siteId: site.id,
      siteServer,
      observer,
      pairingUri: async (edgeId) => (await admin.createPairingCode(DEMO_ORG_ID, site.id, { edgeId })).pairingUri,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Pairs a device state dir with the given command (the compiled binary or node+tsx); bounded. */
export async function pairDevice(
  world: World,
  command: string,
  prefixArgs: string[],
  device: { edgeId: string; stateDir: string; hardwareId: string },
): Promise<void> {
  const uri = await world.pairingUri(device.edgeId);
  const result = await runToEnd(
    command,
    [
      ...prefixArgs,
      'pair',
      '--edge-id',
      device.edgeId,
      '--state-dir',
      device.stateDir,
      '--hardware-id',
      device.hardwareId,
      '--json',
      '--no-connect',
    ],
    { timeoutMs: 60_000, env: { [PAIRING_URI_ENV]: uri } },
  );
  if (result.code !== 0)
    throw new Error(`pairing ${device.edgeId} failed (exit ${result.code}): ${result.stderr.slice(-1500)}`);
}
