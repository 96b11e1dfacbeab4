/**
 * Another mock site server for the scenario's site (issue 17's scenarios): a replacement that takes the site over,
 * or a TLS server whose CA rotates. It registers with the admin token (admin+ may replace a registration), on the
 * same host as the scenario's own server, on new ports; `--db` lets a restart keep its registration, so a change
 * of certificate or CA is registered with the server's own token, as on a real site.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../common/log/log.js';
import { startMockSiteServer, type MockSiteServer } from '../../mock/site-server/index.js';
import type { ScenarioContext } from '../scenario-kit/types.js';
import { SiteControlClient } from './site-control.js';

export interface SecondSiteServer {
  server: MockSiteServer;
  control: SiteControlClient;
}

export interface SecondSiteOptions {
  /** Keeps the registration across restarts (a folder the caller removes, see `scratchDir`). */
  db?: string;
  mqttPort?: number;
  tls?: { cert: string; key: string; ca: string };
  /** Air-gapped (issue 15): the offline licence file; with `offline`, registrations are never relayed to the cloud. */
  licenceFile?: string;
  offline?: boolean;
}

/** A folder for certificates and databases, removed when the scenario ends. */
export function scratchDir(ctx: ScenarioContext, label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cst-hil-${label}-`));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startSecondSiteServer(
  ctx: ScenarioContext,
  options: SecondSiteOptions = {},
): Promise<SecondSiteServer> {
  const host = new URL(ctx.site.mqttUrl).hostname.replace(/^\[|\]$/g, '');
  const server = await startMockSiteServer(
    {
      cloud: ctx.cloud.url,
      orgId: ctx.site.orgId,
      siteId: ctx.site.siteId,
      token: ctx.cloud.adminToken,
      host,
      mqttPort: options.mqttPort ?? 0,
      httpPort: 0,
      refreshSeconds: 2,
      ...(options.db ? { db: options.db } : {}),
      ...(options.tls ? { tlsCert: options.tls.cert, tlsKey: options.tls.key, tlsCa: options.tls.ca } : {}),
      ...(options.licenceFile ? { licenceFile: options.licenceFile, offline: options.offline === true } : {}),
    },
    { logger: createLogger({ level: 'error', write: (line) => ctx.note(`second site server: ${line.trim()}`) }) },
  );
  ctx.defer(() => server.close());
  return { server, control: new SiteControlClient(server.httpUrl, server.controlToken) };
}
