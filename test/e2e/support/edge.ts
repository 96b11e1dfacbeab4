/**
 * One edge with its own site server and state directory, against a cloud process: shared by most e2e tests.
 */
import { join } from 'node:path';
import { PAIRING_URI_ENV } from '../../../src/edge/cli/secret-input.js';
import { commandFor, runToEnd, startProcess, type Child, type Runtime } from '../../helpers/process.js';
import { tempDir, testHardwareId } from '../../helpers/tmp.js';
import { createSite, DEMO_ORG_ID, type CloudProcess } from './cloud.js';
import { startSite, type Site } from './site.js';
import type { SiteServerOptionsInput } from '../../../src/mock/site-server/options.js';

export const EDGE = 'src/edge/main.ts';

export interface TestEdge {
  edgeId: string;
  siteId: string;
  site: Site;
  stateDir: string;
  /** Runs a CLI subcommand to completion, optionally wrapped (faketime, unshare). */
  cli(args: string[], wrap?: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof runToEnd>;
  /** `pair --json` with a fresh code for this edge, the URI in the environment (never on the command line). */
  pair(wrap?: string[]): ReturnType<typeof runToEnd>;
  /** `run --json`; the producer API is off unless a port is given (`'0'`: a free one, shown in the `started` line). */
  run(wrap?: string[], options?: { producerPort?: string }): Child;
  status(wrap?: string[]): Promise<Record<string, any>>;
}

export async function testEdge(
  cloud: CloudProcess,
  runtime: Runtime,
  label: string,
  siteOptions: Partial<SiteServerOptionsInput> = {},
): Promise<TestEdge> {
  const siteId = await createSite(cloud.admin, label);
  const site = await startSite(cloud, siteId, siteOptions);
  const stateDir = tempDir(`cst-${label}-`);
  const edgeId = `${label}-${runtime}`.slice(0, 60);
  const base = ['--state-dir', stateDir, '--hardware-id', testHardwareId(label)];
  const { command, args } = commandFor(runtime, EDGE);
  const full = (extra: string[], wrap: string[] = []) =>
    (wrap.length ? [wrap[0]!, [...wrap.slice(1), command, ...args, ...extra]] : [command, [...args, ...extra]]) as [
      string,
      string[],
    ];
  const cli = (extra: string[], wrap: string[] = [], env: NodeJS.ProcessEnv = {}) =>
    runToEnd(...full([...extra, ...base], wrap), { env });
  return {
    edgeId,
    siteId,
    site,
    stateDir,
    cli,
    pair: async (wrap = []) =>
      cli(['pair', '--edge-id', edgeId, '--json'], wrap, {
        [PAIRING_URI_ENV]: await pairingUri(cloud, siteId, edgeId),
      }),
    run: (wrap = [], options = {}) =>
      startProcess(
        ...full(
          [
            'run',
            '--json',
            ...base,
            '--producer-port',
            options.producerPort ?? 'off',
            '--pairing-uri-file',
            join(stateDir, 'none'),
          ],
          wrap,
        ),
      ),
    async status(wrap = []) {
      const result = await cli(['status', '--json'], wrap);
      return JSON.parse(result.stdout) as Record<string, any>;
    },
  };
}

export async function pairingUri(cloud: CloudProcess, siteId: string, edgeId: string): Promise<string> {
  return (await cloud.admin.createPairingCode(DEMO_ORG_ID, siteId, { edgeId })).pairingUri;
}

/** A libfaketime wrapper that starts the child's clock at `spec` and lets it run; timers stay on the real monotonic clock. */
export function fakeClock(spec: string): string[] {
  return ['env', 'FAKETIME_DONT_FAKE_MONOTONIC=1', 'faketime', '-f', spec];
}
