/**
 * The site rotates its broker's CA with an overlap (issue 17): the site server registers old + new CA, the device
 * learns both at its next token refresh, the server switches to a certificate from the new CA and the device keeps
 * connecting; then the old CA is withdrawn and the device trusts only the new one. No re-pairing, no seq lost.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCerts } from '../../../scripts/gen-certs.js';
import { scratchDir, startSecondSiteServer, type SecondSiteServer } from '../bed/second-site-server.js';
import { freePort } from '../bed/ports.js';
import { check, checkEqual } from '../scenario-kit/errors.js';
import { deviceStatus, pairDevice } from '../scenario-kit/steps.js';
import { produceBatch } from '../scenario-kit/telemetry.js';
import type { Scenario, ScenarioContext } from '../scenario-kit/types.js';
import { waitUntil } from '../util/wait.js';

const waitOnline = (ctx: ScenarioContext, site: SecondSiteServer, since: number, what: string) =>
  waitUntil(
    async () => {
      const edge = await site.control.edge(ctx.edgeId);
      return edge?.presence.state === 'online' && Date.parse(edge.presence.since ?? '') >= since - 1000 ? edge : null;
    },
    { timeoutMs: 60_000, what, signal: ctx.signal, intervalMs: 250 },
  );

/** Asks the device to refresh its token now (what it does by itself at 80 % of the token's life). */
async function refreshNow(ctx: ScenarioContext, site: SecondSiteServer): Promise<void> {
  const answer = await site.control.command(ctx.edgeId, 'rotate-token', { timeoutMs: 30_000 });
  check((answer.body.result as { ok?: boolean } | undefined)?.ok, `rotate-token: ${JSON.stringify(answer.body)}`);
}

async function trustedCas(ctx: ScenarioContext): Promise<string[]> {
  const status = await deviceStatus(ctx);
  return (status.siteEndpoint as { caFingerprints?: string[] } | undefined)?.caFingerprints ?? [];
}

export const caRotation: Scenario = {
  id: 'ca-rotation',
  title: 'the site CA rotates with an overlap; the device keeps connecting and ends trusting only the new CA',
  timeoutS: 240,
  requires: { ownSiteServer: true, capabilities: ['telemetry'] },
  async run(ctx) {
    const dir = scratchDir(ctx, 'ca-rotation');
    const host = new URL(ctx.site.mqttUrl).hostname;
    const oldCa = generateCerts(join(dir, 'old'), { names: [host] });
    const newCa = generateCerts(join(dir, 'new'), { names: [host] });
    const bundle = join(dir, 'old-and-new-ca.pem');
    writeFileSync(bundle, readFileSync(oldCa.ca.cert, 'utf8') + readFileSync(newCa.ca.cert, 'utf8'));
    const db = join(dir, 'site.db');
    const mqttPort = await freePort(host);
    let site: SecondSiteServer | undefined;
    const serve = async (cert: { cert: string; key: string }, ca: string) => {
      await site?.server.close();
      const since = Date.now();
      site = await startSecondSiteServer(ctx, { db, mqttPort, tls: { ...cert, ca } });
      return since;
    };

    // The site's TLS server (old CA) takes over the scenario's plain one before the device pairs.
    await serve(oldCa.server, oldCa.ca.cert);
    await pairDevice(ctx);
    let since = Date.now();
    await ctx.device.start();
    await waitOnline(ctx, site!, since, 'the device online over mqtts (old CA)');
    const [oldFingerprint] = await trustedCas(ctx);
    await produceBatch(ctx, 10, 'old-ca');

    // 1. Overlap: the server registers old + new CA; the device learns both at its next refresh.
    since = await serve(oldCa.server, bundle);
    await waitOnline(ctx, site!, since, 'the device back after the restart');
    await refreshNow(ctx, site!);
    await waitUntil(async () => ((await trustedCas(ctx)).length === 2 ? true : null), {
      timeoutMs: 60_000,
      what: 'the device to trust old and new CA',
      signal: ctx.signal,
      intervalMs: 500,
    });

    // 2. The server switches to a certificate from the new CA: the device keeps connecting.
    since = await serve(newCa.server, bundle);
    await waitOnline(ctx, site!, since, 'the device online with the new certificate');
    await produceBatch(ctx, 10, 'new-cert');

    // 3. The old CA is withdrawn.
    since = await serve(newCa.server, newCa.ca.cert);
    await waitOnline(ctx, site!, since, 'the device back after the withdrawal');
    await refreshNow(ctx, site!);
    const cas = await waitUntil(
      async () => {
        const now = await trustedCas(ctx);
        return now.length === 1 && now[0] !== oldFingerprint ? now : null;
      },
      { timeoutMs: 60_000, what: 'the device to trust only the new CA', signal: ctx.signal, intervalMs: 500 },
    );
    ctx.figure('trustedCas', cas.join(','));
    // Each restart starts an empty seq book (it lives in memory): the last server must get what comes now.
    const last = await produceBatch(ctx, 10, 'new-ca-only');
    await waitUntil(async () => ((await site!.control.gaps(ctx.edgeId)).lastSeq >= last ? true : null), {
      timeoutMs: 60_000,
      what: `the site server to receive seq ${last}`,
      signal: ctx.signal,
      intervalMs: 250,
    });
    checkEqual(ctx.device.sessionExit(), null, 'the device process must keep running through the rotation');
  },
};
