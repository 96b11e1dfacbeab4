/**
 * An update engine over a real identity.db in a temp state dir, with a test release key trusted, every
 * `P/update/state` report collected, and the restart request recorded (under test there is no launcher).
 */
import { gzipSync } from 'node:zlib';
import { randomBytes, randomUUID } from 'node:crypto';
import { silentLogger } from '../../src/common/log/log.js';
import { UpdateEngine, type UpdateEngineOptions } from '../../src/edge/update/engine.js';
import { UpdateJobStore } from '../../src/edge/update/job-store.js';
import { RuntimeInstaller } from '../../src/edge/update/runtime-installer.js';
import { updatePaths } from '../../src/edge/update/state-files.js';
import { ReleaseKeyStore } from '../../src/edge/update/trust/release-key-store.js';
import { openEdgeStores, type EdgeStores } from '../../src/edge/stores/index.js';
import type { UpdateStateReport } from '../../src/protocol/updates.js';
import type { ReleaseManifest } from '../../src/protocol/release.js';
import { runtimeManifest, signManifest, type TestReleaseKey } from './release.js';
import { tempDir } from './tmp.js';

export const TOKEN = 'edge-token-for-tests';

export interface EngineBed {
  stateDir: string;
  stores: EdgeStores;
  engine: UpdateEngine;
  jobs: UpdateJobStore;
  reports: UpdateStateReport[];
  restarts: number;
  paths: ReturnType<typeof updatePaths>;
  states(): string[];
  reopen(overrides?: Partial<UpdateEngineOptions>): UpdateEngine;
}

export async function engineBed(
  key: TestReleaseKey,
  origin: string,
  overrides: Partial<UpdateEngineOptions> = {},
  stateDir = tempDir('cst-update-'),
): Promise<EngineBed> {
  const stores = await openEdgeStores(stateDir, silentLogger);
  const paths = updatePaths(stateDir);
  const bed = {
    stateDir,
    stores,
    paths,
    reports: [] as UpdateStateReport[],
    restarts: 0,
    jobs: new UpdateJobStore(stores.db),
    states: () => bed.reports.map((r) => r.state),
  } as EngineBed;
  const make = (more: Partial<UpdateEngineOptions>) =>
    new UpdateEngine({
      paths,
      jobs: bed.jobs,
      keys: new ReleaseKeyStore(stores.db, { sequence: 0, keys: [key.trusted] }),
      installers: { runtime: new RuntimeInstaller({ paths, db: stores.db, trialSeconds: () => 30 }) },
      runningVersion: '1.0.0',
      logger: silentLogger,
      settings: () => ({}),
      downloadTarget: (url) => ({ url, token: TOKEN, siteUrl: origin, brokerUrl: 'mqtt://127.0.0.1:1883' }),
      publish: async (report) => {
        bed.reports.push(report);
      },
      requestRestart: () => {
        bed.restarts++;
      },
      arch: 'x64',
      space: () => ({ free: 10 * 2 ** 30, total: 20 * 2 ** 30 }),
      downloadBackoff: { baseMs: 20, capMs: 50 },
      readTimeoutMs: 2000,
      ...overrides,
      ...more,
    });
  bed.engine = make({});
  bed.reopen = (more = {}) => {
    bed.engine = make(more);
    return bed.engine;
  };
  return bed;
}

/** A "binary" (random bytes, so gzip cannot shrink it much) and its runtime release. */
export async function runtimeRelease(
  key: TestReleaseKey,
  overrides: Partial<ReleaseManifest> = {},
  binarySize = 256 * 1024,
): Promise<{ binary: Buffer; artifact: Buffer; manifest: ReleaseManifest; jws: string }> {
  const binary = randomBytes(binarySize);
  const artifact = gzipSync(binary);
  const manifest = runtimeManifest(artifact, { version: '2.0.0', installedSize: binary.length, ...overrides });
  return { binary, artifact, manifest, jws: await signManifest(key, manifest) };
}

export function offerPayload(
  jws: string,
  url: string,
  more: { campaignId?: string; allowDowngrade?: boolean; releaseKeys?: string } = {},
): Buffer {
  return Buffer.from(
    JSON.stringify({
      campaignId: more.campaignId ?? randomUUID(),
      manifest: jws,
      url,
      allowDowngrade: more.allowDowngrade ?? false,
      ...(more.releaseKeys ? { releaseKeys: more.releaseKeys } : {}),
      ts: new Date().toISOString(),
    }),
  );
}
