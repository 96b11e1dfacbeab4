/**
 * `npm run demo`: the whole chain on one machine. Starts the mock cloud and the mock site server on free ports,
 * logs in as the seeded admin, creates a site, registers the site server with a pairing code, pairs N local
 * edges (the real edge CLI, each with its own temp state dir and hardware id) and runs them, then prints one
 * live line a second: each edge's state, the messages the site server received from it, and its queue depth.
 *
 *   npm run demo -- [--devices N (1)] [--seconds S (run until Ctrl-C)]
 *
 * Ctrl-C (or --seconds) stops the edges, the site server and the cloud, in that order, and removes temp dirs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createLogger, type Logger } from '../src/common/log/log.js';
import { DEMO_ORG_ID, DEMO_PASSWORD, DEMO_USERS, MockCloudClient, startMockCloud } from '../src/mock/cloud/index.js';
import { startMockSiteServer } from '../src/mock/site-server/index.js';

const ROOT = resolve(import.meta.dirname, '..');
const Flags = z.object({
  devices: z.coerce.number().int().min(1).max(50).default(1),
  seconds: z.coerce.number().int().min(1).max(86_400).optional(),
});

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: { devices: { type: 'string' }, seconds: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (values.help) {
      process.stdout.write('usage: npm run demo -- [--devices N (1..50)] [--seconds S]\n');
      process.exit(0);
    }
    const parsed = Flags.safeParse(values);
    if (!parsed.success)
      throw new Error(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '));
    return parsed.data;
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    process.exit(2);
  }
}

const step = (text: string) => process.stdout.write(`• ${text}\n`);

interface DemoEdge {
  edgeId: string;
  stateDir: string;
  hardwareId: string;
  state: string;
  proc?: ChildProcess;
}

/** Runs the edge CLI; resolves with its exit code. Its JSON stdout lines feed `onLine`. */
function edgeCli(
  args: string[],
  onLine: (line: Record<string, unknown>) => void,
  env: NodeJS.ProcessEnv = {},
): { proc: ChildProcess; exited: Promise<number> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/edge/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  createInterface({ input: proc.stdout! }).on('line', (text) => {
    try {
      onLine(JSON.parse(text));
    } catch {
      /* not JSON: ignore */
    }
  });
  const stderr: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (text) => stderr.push(text) > 20 && stderr.shift());
  const exited = new Promise<number>((resolveExit) =>
    proc.on('exit', (code) => {
      if (code !== 0 && code !== null)
        process.stderr.write(`edge ${args[0]} exited ${code}:\n${stderr.slice(-5).join('\n')}\n`);
      resolveExit(code ?? 1);
    }),
  );
  return { proc, exited };
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const quiet = createLogger({ level: 'error' });
  const work = mkdtempSync(join(tmpdir(), 'cst-demo-'));
  const stoppers: Array<() => Promise<unknown>> = [];
  let stopping: Promise<void> | undefined;
  const stop = (code: number) =>
    (stopping ??= (async () => {
      process.stdout.write('\n');
      step('stopping: edges, site server, cloud');
      for (const s of stoppers.reverse()) await s().catch(() => {});
      rmSync(work, { recursive: true, force: true });
      step('stopped');
      process.exit(code);
    })());
  // stop() ends the process; each stopper's failure is already caught, this catch is the last resort.
  const stopDemo = () => {
    stop(0).catch((error: unknown) => process.stderr.write(`demo stop failed: ${(error as Error).message}\n`));
  };
  process.on('SIGINT', stopDemo);
  process.on('SIGTERM', stopDemo);

  try {
    const cloud = await startMockCloud({ logger: quiet });
    stoppers.push(() => cloud.close());
    step(`mock cloud listening at ${cloud.url}`);

    const admin = new MockCloudClient(cloud.url);
    await admin.login(DEMO_USERS.admin, DEMO_PASSWORD);
    step(`logged in as ${DEMO_USERS.admin} (seeded organisation "Demo Mining Co", ${DEMO_ORG_ID})`);
    const slug = `demo-${randomUUID().slice(0, 6)}`;
    const site = await admin.createSite(DEMO_ORG_ID, { name: 'Demo pit', slug, timezone: 'Australia/Perth' });
    step(`created site "${site.name}" (${site.id})`);

    const server = await startSiteServer(cloud.url, admin, site.id, join(work, 'site-server.db'), quiet);
    stoppers.push(() => server.close());
    step(`mock site server registered with the cloud: MQTT ${server.mqttUrl}, control API ${server.httpUrl}`);
    // The control API needs its bearer token; a file (0600) rather than the terminal keeps it out of scrollback.
    const tokenFile = join(work, 'site-control-token');
    writeFileSync(tokenFile, `${server.controlToken}\n`, { mode: 0o600, flag: 'wx' });
    step(
      `control API token in ${tokenFile}: curl -H "Authorization: Bearer $(cat ${tokenFile})" ${server.httpUrl}/edges`,
    );

    const edges: DemoEdge[] = Array.from({ length: flags.devices }, (_, i) => ({
      edgeId: `demo-edge-${i + 1}`,
      stateDir: join(work, `edge-${i + 1}`),
      hardwareId: `demo-hw-${site.id}-${i + 1}`,
      state: 'unpaired',
    }));
    for (const edge of edges) stoppers.push(await pairAndRun(edge, admin, site.id));
    for (const edge of edges) await pushDemoConfig(server, edge);
    step(`live view, one line a second${flags.seconds ? ` for ${flags.seconds} s` : ' (Ctrl-C to stop)'}:`);
    const stopView = startLiveView(server, edges, flags.seconds, stopDemo);
    stoppers.push(async () => stopView());
  } catch (error) {
    process.stderr.write(`demo failed: ${(error as Error).message}\n`);
    await stop(1);
  }
}

type SiteServer = Awaited<ReturnType<typeof startMockSiteServer>>;

/** The site server pairs with the cloud like a real one: with a server pairing code. */
async function startSiteServer(
  cloudUrl: string,
  admin: MockCloudClient,
  siteId: string,
  db: string,
  logger: Logger,
): Promise<SiteServer> {
  const serverCode = await admin.createPairingCode(DEMO_ORG_ID, siteId, { purpose: 'server' });
  return startMockSiteServer(
    {
      cloud: cloudUrl,
      orgId: DEMO_ORG_ID,
      siteId,
      code: serverCode.code,
      mqttPort: 0,
      httpPort: 0,
      hardwareId: `demo-site-server-${siteId}`,
      db,
    },
    { logger },
  );
}

/** Pairs the edge with the real CLI, then starts its `run`; returns how to stop it. */
async function pairAndRun(edge: DemoEdge, admin: MockCloudClient, siteId: string): Promise<() => Promise<void>> {
  const { pairingUri } = await admin.createPairingCode(DEMO_ORG_ID, siteId, { edgeId: edge.edgeId });
  step(`pairing code for ${edge.edgeId}: ${pairingUri.replace(/code=[^&]+/, 'code=…')}`);
  edge.state = 'pairing';
  const common = ['--state-dir', edge.stateDir, '--hardware-id', edge.hardwareId, '--json'];
  // The pairing URI carries a secret code: the environment, not the command line every user can read.
  const paired = edgeCli(['pair', '--edge-id', edge.edgeId, ...common], () => {}, {
    CONSYSTENCE_EDGE_PAIRING_URI: pairingUri,
  });
  if ((await paired.exited) !== 0) throw new Error(`pairing ${edge.edgeId} failed`);
  edge.state = 'paired';
  step(`${edge.edgeId} paired (state in ${edge.stateDir})`);
  // Port 0: every demo edge gets its own free loopback port for the producer API (printed below).
  const running = edgeCli(['run', '--producer-port', '0', ...common], (line) => {
    if (line.event === 'state' && typeof line.state === 'string') edge.state = line.state;
    if (line.event === 'started' && typeof line.producer === 'string')
      step(`${edge.edgeId} producer API at ${line.producer} (POST /v1/telemetry)`);
  });
  edge.proc = running.proc;
  step(`${edge.edgeId} running`);
  return async () => {
    running.proc.kill('SIGTERM');
    const timer = setTimeout(() => running.proc.kill('SIGKILL'), 5_000);
    await running.exited;
    clearTimeout(timer);
  };
}

/**
 * A config push through the site server's control API: heartbeats every 5 s make the queue depth visible, and
 * system metrics every 2 s make real telemetry flow through the outbox.
 */
async function pushDemoConfig(server: SiteServer, edge: DemoEdge): Promise<void> {
  const pushed = await fetch(`${server.httpUrl}/edges/${edge.edgeId}/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.controlToken}` },
    body: JSON.stringify({ config: { heartbeatSeconds: 5, metricsSeconds: 2 }, wait: true, timeoutMs: 15_000 }),
  });
  const answer = (await pushed.json()) as { version?: number; reported?: { status: string } };
  step(
    `pushed config v${answer.version} (heartbeatSeconds 5, metricsSeconds 2) to ${edge.edgeId}: ${answer.reported?.status ?? `no report (HTTP ${pushed.status})`}`,
  );
}

/** One line a second from the site server's view of every edge; after `seconds` (if set) calls `done`. */
function startLiveView(server: SiteServer, edges: DemoEdge[], seconds: number | undefined, done: () => void) {
  const started = Date.now();
  const timer = setInterval(async () => {
    try {
      const response = await fetch(`${server.httpUrl}/edges`, {
        headers: { authorization: `Bearer ${server.controlToken}` },
        signal: AbortSignal.timeout(900),
      });
      const { data } = (await response.json()) as {
        data: Array<{
          edgeId: string;
          presence: { state: string };
          counters: { received: number; messages: number };
          lastHeartbeat: { queue: { depth: number } } | null;
        }>;
      };
      const cells = edges.map((edge) => {
        const seen = data.find((d) => d.edgeId === edge.edgeId);
        const queue = seen?.lastHeartbeat?.queue.depth;
        return `${edge.edgeId}: ${edge.state}, site server got ${seen?.counters.received ?? 0} msgs (${seen?.counters.messages ?? 0} data), queue ${queue ?? '-'}`;
      });
      process.stdout.write(
        `[${String(Math.round((Date.now() - started) / 1000)).padStart(4)} s] ${cells.join(' | ')}\n`,
      );
    } catch {
      /* a slow tick is skipped, the next one reports */
    }
    if (seconds && Date.now() - started >= seconds * 1000) {
      clearInterval(timer);
      done();
    }
  }, 1_000);
  return () => clearInterval(timer);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).message}\n`);
  process.exit(1);
});
