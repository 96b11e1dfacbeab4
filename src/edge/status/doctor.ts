/**
 * `doctor`: each check passes or fails with the fix. Checks are independent and bounded in time, so one dead
 * dependency cannot hide the others.
 */
import { lookup } from 'node:dns/promises';
import { isIP, connect } from 'node:net';
import { checkIntegrity, type Db } from '../../storage/index.js';
import { PLAUSIBLE_AFTER_MS, SKEW_WARNING_MS, type EdgeClock } from '../clock.js';
import { cloudCall, type FetchLike } from '../cloud-client/http.js';
import type { EdgeStores } from '../stores/index.js';
import { CLOUD_ROUTES, cloudUrl } from '../../protocol/index.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  skipped?: boolean;
  detail: string;
  fix?: string;
}

async function dnsCheck(name: string, host: string): Promise<CheckResult> {
  if (isIP(host)) return { name, ok: true, detail: `${host} is an address (no DNS needed)` };
  try {
    const { address } = await Promise.race([lookup(host), rejectAfter(5_000, 'timed out')]);
    return { name, ok: true, detail: `${host} → ${address}` };
  } catch (error) {
    return {
      name,
      ok: false,
      detail: `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      fix: 'check the DNS servers of this device (/etc/resolv.conf) or the site network',
    };
  }
}

function tcpCheck(name: string, host: string, port: number, fix: string): Promise<CheckResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => done(false, 'no answer within 5 s'), 5_000);
    function done(ok: boolean, why: string) {
      clearTimeout(timer);
      socket.destroy();
      resolve(
        ok
          ? { name, ok, detail: `${host}:${port} reachable` }
          : { name, ok, detail: `${host}:${port} not reachable (${why})`, fix },
      );
    }
    socket.once('connect', () => done(true, ''));
    socket.once('error', (error: NodeJS.ErrnoException) => done(false, error.code ?? error.message));
  });
}

function rejectAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref?.());
}

function integrityCheck(name: string, db: Db, fix: string): CheckResult {
  const problem = checkIntegrity(db, 'full');
  return problem === null
    ? { name, ok: true, detail: `${db.path} passes the full integrity check` }
    : { name, ok: false, detail: `${db.path}: integrity check failed: ${problem}`, fix };
}

function portOf(url: URL, fallback: number): number {
  return Number(url.port || fallback);
}

export async function runDoctor(state: EdgeStores, clock: EdgeClock, fetchImpl: FetchLike): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const reg = state.registration.get();

  // Databases first: everything else reads them. The outbox is checked in full only here, never at boot.
  results.push(
    integrityCheck(
      'database',
      state.db,
      "stop the service and run 'consystence-edge reset --yes' (the device must then be paired again)",
    ),
  );
  if (state.outboxDb !== state.db)
    results.push(
      integrityCheck(
        'outbox',
        state.outboxDb,
        `stop the service and move ${state.outboxDb.path} aside: the queued data is lost, the device stays paired`,
      ),
    );

  const local = Date.now();
  if (local < PLAUSIBLE_AFTER_MS) {
    results.push({
      name: 'clock',
      ok: false,
      detail: `the local clock says ${new Date(local).toISOString()}, before this software was built (${new Date(PLAUSIBLE_AFTER_MS).toISOString()})`,
      fix: "enable NTP (timedatectl set-ntp true) or set the date; tokens use the cloud's time meanwhile",
    });
  }
  if (!reg) {
    results.push({
      name: 'registration',
      ok: false,
      detail: 'this device is not paired',
      fix: "run 'consystence-edge pair --uri …'",
    });
    return results;
  }
  results.push(
    reg.revokedAt
      ? {
          name: 'registration',
          ok: false,
          detail: `revoked at ${reg.revokedAt}`,
          fix: 'ask for a new pairing code, then reset and pair',
        }
      : { name: 'registration', ok: true, detail: `${reg.edgeId} at site ${reg.siteId}` },
  );

  const cloud = new URL(reg.cloudUrl);
  const broker = new URL(reg.config.siteServer.mqtt.url);
  const [cloudDns, cloudTcp, brokerDns, brokerTcp] = await Promise.all([
    dnsCheck('cloud-dns', cloud.hostname),
    tcpCheck(
      'cloud-tcp',
      cloud.hostname,
      portOf(cloud, cloud.protocol === 'https:' ? 443 : 80),
      'the cloud is needed only to pair and refresh tokens; check the site firewall and proxy for outbound HTTPS',
    ),
    dnsCheck('broker-dns', broker.hostname),
    tcpCheck(
      'broker-tcp',
      broker.hostname,
      portOf(broker, broker.protocol === 'mqtts:' ? 8883 : 1883),
      'check that the site server is running and that this device is on the site network',
    ),
  ]);
  results.push(cloudDns, cloudTcp, brokerDns, brokerTcp);

  if (cloudTcp.ok) {
    try {
      const response = await cloudCall(fetchImpl, {
        method: 'GET',
        url: cloudUrl(reg.cloudUrl, CLOUD_ROUTES.jwks),
        timeoutMs: 5_000,
      });
      if (response.time) {
        const skew = response.time.serverMs - response.time.localMs;
        clock.observe(response.time);
        results.push(
          Math.abs(skew) <= SKEW_WARNING_MS
            ? { name: 'clock', ok: true, detail: `within ${(Math.abs(skew) / 1000).toFixed(1)} s of the cloud` }
            : {
                name: 'clock',
                ok: false,
                detail: `${(skew / 1000).toFixed(0)} s off the cloud's time (corrected for tokens)`,
                fix: 'enable NTP (timedatectl set-ntp true)',
              },
        );
      }
    } catch (error) {
      results.push({
        name: 'clock',
        ok: false,
        detail: `cannot read the cloud's time (${(error as Error).message})`,
        fix: 'check outbound HTTPS to the cloud',
      });
    }
  } else {
    results.push({
      name: 'clock',
      ok: true,
      skipped: true,
      detail: `cloud unreachable; last measured skew ${(clock.skewMs / 1000).toFixed(1)} s`,
    });
  }

  const expiresInMs = reg.tokenExp * 1000 - clock.now();
  results.push(
    expiresInMs > 0
      ? { name: 'token', ok: true, detail: `valid until ${new Date(reg.tokenExp * 1000).toISOString()}` }
      : {
          name: 'token',
          ok: false,
          detail: `expired at ${new Date(reg.tokenExp * 1000).toISOString()}`,
          fix: 'let the service reach the cloud once: it refreshes the token by itself with the device key',
        },
  );
  return results;
}

export function formatDoctor(results: CheckResult[]): string {
  return `${results.map((r) => `${r.skipped ? 'SKIP' : r.ok ? ' OK ' : 'FAIL'}  ${r.name.padEnd(13)} ${r.detail}${!r.ok && r.fix ? `\n      fix: ${r.fix}` : ''}`).join('\n')}\n`;
}
