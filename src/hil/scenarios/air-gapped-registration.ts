/**
 * Air-gapped registration (issue 15): the site admin exports an offline licence file for the site; a site server
 * started with it and cut off from the cloud (`offline`: it never relays) binds the licence key itself and issues
 * the device's token with its own key. The device verifies the chain (licence signed by the cloud licence key in
 * its binary, token signed by the key the licence names), comes online at that site server with the site-issued
 * token, and reports how it registered.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { scratchDir, startSecondSiteServer } from '../bed/second-site-server.js';
import { checkEqual } from '../scenario-kit/errors.js';
import { deviceStatus, mintLicence, registerDevice } from '../scenario-kit/steps.js';
import type { Scenario } from '../scenario-kit/types.js';
import { waitUntil } from '../util/wait.js';

export const airGappedRegistration: Scenario = {
  id: 'air-gapped-registration',
  title: 'registration at an air-gapped site server from its offline licence file, then online with its token',
  timeoutS: 180,
  // It registers a site server of its own (the licence names that server's key) and exports the licence file.
  requires: { ownCloud: true, ownSiteServer: true },
  async run(ctx) {
    const licenceKey = await mintLicence(ctx);
    const dir = scratchDir(ctx, 'air-gapped');
    const db = join(dir, 'site.db');
    // Connected once, so the cloud stores this server's signing key; the licence file names it.
    const connected = await startSecondSiteServer(ctx, { db });
    const { licenceFile } = await ctx.cloud.admin.exportOfflineLicence(ctx.site.orgId, ctx.site.siteId, {
      licenceKeys: [licenceKey],
    });
    await connected.server.close();
    const licencePath = join(dir, 'site.licence');
    writeFileSync(licencePath, licenceFile, { mode: 0o600 });
    ctx.note(`offline licence file exported (${licenceFile.length} characters) for ${licenceKey.slice(0, 9)}…`);

    const { server, control } = await startSecondSiteServer(ctx, { db, licenceFile: licencePath, offline: true });
    checkEqual((await control.health()).mode, 'air-gapped', "the site server's /health mode");
    await registerDevice(ctx, server, licenceKey);
    const status = await deviceStatus(ctx);
    checkEqual(status.registeredVia, 'site-air-gapped', 'status --json registeredVia');
    checkEqual(status.tokenIssuer, `site:${ctx.site.siteId}`, 'status --json tokenIssuer');

    const started = Date.now();
    await ctx.device.start();
    await waitUntil(async () => ((await control.edge(ctx.edgeId))?.presence.state === 'online' ? true : null), {
      timeoutMs: 30_000,
      what: `the air-gapped site server to show ${ctx.edgeId} online`,
      signal: ctx.signal,
      intervalMs: 250,
    });
    ctx.figure('timeToOnlineMs', Date.now() - started);
  },
};
