/**
 * The fleet's site server runs as its own process (the real CLI), not inside the simulator: thousands of
 * simulated edges and the broker they storm would otherwise share one event loop, and the memory figures
 * would mix the two.
 */
import { resolve } from 'node:path';
import { RunningProcess } from '../../common/process/process.js';
import { REPO_ROOT } from '../targets/paths.js';
import { SiteControlClient } from '../bed/site-control.js';

export interface SiteProcess {
  mqttUrl: string;
  httpUrl: string;
  control: SiteControlClient;
  pid: number | undefined;
  close(): Promise<void>;
}

export async function startSiteProcess(options: {
  cloudUrl: string;
  orgId: string;
  siteId: string;
  token: string;
}): Promise<SiteProcess> {
  const proc = new RunningProcess(
    process.execPath,
    [
      '--import',
      'tsx',
      resolve(REPO_ROOT, 'src/mock/site-server/main.ts'),
      '--cloud',
      options.cloudUrl,
      '--org',
      options.orgId,
      '--site',
      options.siteId,
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--message-buffer',
      '50',
    ],
    // No control token from our environment: the server generates one and prints it in its ready line.
    { env: { ...process.env, CONSYSTENCE_SITE_CONTROL_TOKEN: undefined, CONSYSTENCE_SITE_TOKEN: options.token } },
  );
  try {
    const line = await proc.waitForJson((l) => l.event === 'listening', 60_000, 'the site server to listen');
    const httpUrl = String(line.httpUrl);
    return {
      mqttUrl: String(line.mqttUrl),
      httpUrl,
      control: new SiteControlClient(httpUrl, String(line.controlToken)),
      pid: proc.pid,
      close: async () => void (await proc.terminate('SIGTERM', 10_000)),
    };
  } catch (error) {
    await proc.terminate('SIGKILL');
    throw error;
  }
}
