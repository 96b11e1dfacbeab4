/**
 * `doctor`: tests what actually breaks a device, as Azure's `iotedge check` does: one row per concern, each
 * OK / WARN / FAIL / SKIP with the fix, and a summary. Only FAIL means "this device cannot do its job" (exit 8):
 * a cloud that cannot be reached is a WARN, because a paired device runs without it (offline-first).
 *
 * The site-server row logs in with the device's current token, because a reachable port proved nothing (the
 * broker refused the token while an earlier doctor said all OK). The broker ties the login to the client id
 * (`edge == username == clientId`, mosquitto `use_username_as_clientid`), so a second connection as this device
 * would take over the running service's session whatever its client id or MQTT 5 clean start: while the service
 * runs, its own live session is the proof and doctor reads it instead; only a stopped service gets a real login.
 */
import { pendingFinishCommand, pendingSentence, pendingSpent } from '../pairing/pending-request.js';
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { CLOUD_ROUTES, cloudUrl } from '../../protocol/index.js';
import { checkIntegrity, type Db } from '../../storage/index.js';
import { PLAUSIBLE_AFTER_MS, SKEW_WARNING_MS, type EdgeClock, type ServerTimeSample } from '../clock.js';
import { cloudCall, type FetchLike } from '../cloud-client/http.js';
import { describeSkew, humanDuration } from '../human-time.js';
import { printable } from '../../common/text/safe-text.js';
import type { EdgeStores } from '../stores/index.js';
import type { Registration } from '../stores/registration-store.js';
import { dnsProblem, portOf, PROBE_TIMEOUT_MS, tcpProblem } from './doctor-checks.js';
import type { StatusReport } from './report.js';
import { readPeerFingerprint } from '../site-server/pinned-https.js';
import { loadSiteRegistration, type SiteRegistration } from '../site-server/site-registration-store.js';
import { describeSiteEndpoint, siteEndpointReport } from './site-endpoint.js';

export type CheckLevel = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  level: CheckLevel;
  /** `level !== 'fail'`, for scripts written against the first doctor. */
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface DoctorContext {
  state: EdgeStores;
  clock: EdgeClock;
  fetch: FetchLike;
  status: () => StatusReport;
  /** One real MQTT login with the device's current token (session/probe.ts). */
  probeLogin: (registration: Registration) => Promise<void>;
  /**
   * Checks of this device's own ground that need no network, after the database and disk rows (the machine-id
   * check of the storage layer belongs here).
   */
  localChecks?: Array<() => CheckResult>;
}

/** Below this SQLite cannot be trusted to commit (WAL growth, a checkpoint): the device is about to stop. */
const DISK_FAIL_BYTES = 16 * 2 ** 20;
/** A token closer than this to its expiry, with the cloud out of reach, will lock the device out. */
const TOKEN_SOON_MS = 24 * 3_600_000;

function row(name: string, level: CheckLevel, detail: string, fix?: string): CheckResult {
  return { name, level, ok: level !== 'fail', detail, ...(fix && level !== 'ok' ? { fix } : {}) };
}

export async function runDoctor(ctx: DoctorContext): Promise<CheckResult[]> {
  const { state, clock } = ctx;
  const report = ctx.status();
  const reg = state.registration.get();
  const results: CheckResult[] = [serviceRow(report, reg), ...databaseRows(state), diskRow(state, reg)];
  for (const check of ctx.localChecks ?? []) results.push(check());

  if (!reg) {
    // An interrupted pair/register is finished by the same command: any other would be refused, and may spend a
    // second code or licence.
    const pending = report.pendingRequest;
    results.push(
      pending
        ? row(
            'registration',
            'fail',
            `not registered: ${pendingSentence(pending)} did not finish (${pendingSpent(pending)})`,
            `finish it with the same command: ${pendingFinishCommand(pending)}`,
          )
        : row(
            'registration',
            'fail',
            'this device is not paired',
            "run 'consystence-edge pair --uri -' and paste the pairing URI, or on a site with a licence key 'consystence-edge register --site-server URL …'",
          ),
      clockRow(clock, false),
    );
    return results;
  }
  if (reg.revokedAt) {
    results.push(
      row(
        'registration',
        'fail',
        `removed from its site (noticed at ${reg.revokedAt})`,
        'ask for a new pairing code, then reset and pair',
      ),
    );
    return results;
  }
  const pinned = loadSiteRegistration(state.db);
  const how = pinned
    ? `registered through the site server at ${pinned.siteServerUrl} (${pinned.mode} site)`
    : 'paired with a code at the cloud';
  results.push(row('registration', 'ok', `${reg.edgeId} at site ${reg.siteId}, ${how}`));

  // Air-gapped, the site server issues and renews the token and is the only time the device measured.
  const authority = pinned?.mode === 'air-gapped' ? 'the site server' : 'the cloud';
  const [cloud, siteServer, identity] = await Promise.all([
    pinned?.mode === 'air-gapped' ? airGappedCloudRow() : cloudRow(ctx, reg),
    siteServerRow(ctx, reg, report, authority),
    pinned ? siteIdentityRow(pinned) : null,
  ]);
  // The cloud's time measured now wins over the saved offset, for the token's lifetime too (not saved: read-only).
  if (cloud.time) clock.observe(cloud.time, { save: false });
  results.push(
    clockRow(clock, cloud.time !== null, authority),
    cloud.row,
    siteServer,
    tokenRow(reg, clock, authority === 'the cloud' ? cloud.reached : null),
  );
  if (identity) results.push(identity);
  const site = siteEndpointReport(state);
  if (site) results.push(row('site-endpoint', 'ok', describeSiteEndpoint(site)));
  return results;
}

function serviceRow(report: StatusReport, reg: Registration | null): CheckResult {
  if (report.daemon.running) return row('service', 'ok', `running (pid ${report.daemon.pid}), ${report.state}`);
  if (!reg || reg.revokedAt) return row('service', 'skip', 'not running (nothing to run until this device is paired)');
  return row(
    'service',
    'warn',
    'not running: nothing is sent to the site server',
    'systemctl start consystence-edge (and systemctl enable consystence-edge to start it at boot); journalctl -u consystence-edge says why it stopped',
  );
}

/** Databases first: everything else reads them. The outbox is checked in full only here, never at boot. */
function databaseRows(state: EdgeStores): CheckResult[] {
  const rows = [
    integrityRow(
      'database',
      state.db,
      "stop the service and run 'consystence-edge reset --yes' (the device must then be paired again)",
    ),
  ];
  if (state.outboxDb !== state.db)
    rows.push(
      integrityRow(
        'outbox',
        state.outboxDb,
        `stop the service and move ${state.outboxDb.path} aside: the queued data is lost, the device stays paired`,
      ),
    );
  return rows;
}

function integrityRow(name: string, db: Db, fix: string): CheckResult {
  const problem = checkIntegrity(db, 'full');
  return problem === null
    ? row(name, 'ok', `${db.path} passes the full integrity check`)
    : row(name, 'fail', `${db.path}: integrity check failed: ${printable(problem)}`, fix);
}

function diskRow(state: EdgeStores, reg: Registration | null): CheckResult {
  const dir = dirname(state.db.path);
  let free: number;
  try {
    const stats = statfsSync(dir);
    free = stats.bavail * stats.bsize;
  } catch (error) {
    return row('disk', 'skip', `cannot read the free space of ${dir} (${(error as NodeJS.ErrnoException).code})`);
  }
  const shown = `${(free / 2 ** 20).toFixed(0)} MiB free in ${dir}`;
  if (free < DISK_FAIL_BYTES)
    return row('disk', 'fail', shown, 'free space on this partition: the device cannot store data or its token');
  // The queue may grow to its configured limit during a site outage: that room should exist.
  const limit = (reg?.config.buffer.maxSizeMb ?? 0) * 2 ** 20;
  if (free < limit)
    return row(
      'disk',
      'warn',
      `${shown}, less than the queue may need during an outage (${reg!.config.buffer.maxSizeMb} MiB)`,
      'free space on this partition, or lower the buffer size in the site configuration',
    );
  return row('disk', 'ok', shown);
}

/** One clock row: the local clock's plausibility and its skew from the cloud (measured now, else the last one). */
function clockRow(clock: EdgeClock, measuredNow: boolean, reference = 'the cloud'): CheckResult {
  const skew = clock.skewMs;
  const source = measuredNow
    ? 'measured now'
    : reference === 'the cloud'
      ? 'cloud unreachable, last measured'
      : `last measured against ${reference}`;
  const fix = `enable NTP (timedatectl set-ntp true) or set the date; tokens use ${reference}'s time meanwhile`;
  if (Date.now() < PLAUSIBLE_AFTER_MS) {
    const detail = `the local clock says ${new Date().toISOString()}, before this software was built`;
    // Without any measurement of the cloud's time the device cannot sign a valid assertion.
    if (!measuredNow && skew === 0) return row('clock', 'fail', `${detail}; ${reference}'s time is unknown`, fix);
    return row('clock', 'warn', `${detail}; ${describeSkew(skew, reference)} (${source})`, fix);
  }
  if (Math.abs(skew) > SKEW_WARNING_MS)
    return row(
      'clock',
      'warn',
      `${describeSkew(skew, reference)} (${source}); corrected for tokens and for what the device sends, but its log carries the local time`,
      fix,
    );
  return row('clock', 'ok', `${describeSkew(skew, reference)} (${source})`);
}

async function cloudRow(
  ctx: DoctorContext,
  reg: Registration,
): Promise<{ row: CheckResult; reached: boolean; time: ServerTimeSample | null }> {
  const url = new URL(reg.cloudUrl);
  const offline = (why: string) => ({
    row: row(
      'cloud',
      'warn',
      `${why}; this device works without the cloud (it is needed only to pair and to refresh the token)`,
      'if the site should reach the cloud: check DNS (/etc/resolv.conf), the firewall and proxy for outbound HTTPS',
    ),
    reached: false,
    time: null,
  });
  const dns = await dnsProblem(url.hostname);
  if (dns) return offline(dns);
  const tcp = await tcpProblem(url.hostname, portOf(url, url.protocol === 'https:' ? 443 : 80));
  if (tcp) return offline(tcp);
  try {
    const response = await cloudCall(ctx.fetch, {
      method: 'GET',
      url: cloudUrl(reg.cloudUrl, CLOUD_ROUTES.jwks),
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    const time = response.time ?? null;
    return { row: row('cloud', 'ok', `${reg.cloudUrl} answers (HTTP ${response.status})`), reached: true, time };
  } catch (error) {
    return offline(`${reg.cloudUrl} does not answer over HTTPS (${printable((error as Error).message)})`);
  }
}

/** On an air-gapped site the cloud is not used at all: the site server issues and renews the token. */
function airGappedCloudRow(): { row: CheckResult; reached: boolean; time: null } {
  return {
    row: row('cloud', 'skip', 'air-gapped site: this device does not use the cloud; the site server renews its token'),
    reached: true,
    time: null,
  };
}

/** The site server's key now, compared with the fingerprint pinned at `register` (only the TLS handshake). */
async function siteIdentityRow(pinned: SiteRegistration): Promise<CheckResult> {
  let presented: string;
  try {
    presented = await readPeerFingerprint(pinned.siteServerUrl, { timeoutMs: PROBE_TIMEOUT_MS });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    return row(
      'site-server-identity',
      'warn',
      `cannot reach ${pinned.siteServerUrl} to check its key (${printable(code, 64)}); pinned ${pinned.fingerprint}`,
      'check that the site server runs and listens on its edge port; token refresh and uploads need it',
    );
  }
  if (presented === pinned.fingerprint)
    return row('site-server-identity', 'ok', `${pinned.siteServerUrl} presents the pinned key ${pinned.fingerprint}`);
  return row(
    'site-server-identity',
    'fail',
    `${pinned.siteServerUrl} presents the key ${presented}, not the pinned ${pinned.fingerprint}: this device refuses to talk to it over HTTPS`,
    "if the site server was replaced or re-keyed on purpose, compare the new fingerprint with the one it prints, then run 'consystence-edge register --force --site-server-fingerprint NEW …'; otherwise something is impersonating it",
  );
}

async function siteServerRow(
  ctx: DoctorContext,
  reg: Registration,
  report: StatusReport,
  authority: string,
): Promise<CheckResult> {
  const brokerUrl = reg.config.siteServer.mqtt.url;
  if (report.daemon.running) {
    if (report.state === 'online')
      return row(
        'site-server',
        'ok',
        `the running service is logged in to ${brokerUrl} since ${report.connectedSince}`,
      );
    return row(
      'site-server',
      'fail',
      `the running service is not connected to ${brokerUrl}${report.offlineSince ? ` (offline ${humanDuration(ctx.clock.now() - Date.parse(report.offlineSince))})` : ''}: ${printable(report.lastError ?? 'no error recorded yet', 1000)}`,
      "see 'consystence-edge status' for the next attempt; check that the site server runs and that this device is on the site network",
    );
  }
  const url = new URL(brokerUrl);
  const network =
    (await dnsProblem(url.hostname)) ??
    (await tcpProblem(url.hostname, portOf(url, url.protocol === 'mqtts:' ? 8883 : 1883)));
  const fix = 'check that the site server is running and that this device is on the site network';
  if (network) return row('site-server', 'fail', network, fix);
  try {
    await ctx.probeLogin(reg);
    return row('site-server', 'ok', `${brokerUrl} accepted this device's token (a test login, disconnected at once)`);
  } catch (error) {
    const why = printable((error as Error).message, 1000);
    const refused = /refused the connection/.test(why);
    return row(
      'site-server',
      'fail',
      why,
      refused && authority === 'the site server'
        ? "start the service: it renews a refused token at the site server by itself. If the site server still refuses it, ask the site admin whether this device's registration was removed there"
        : refused
          ? "start the service: it refreshes a refused token from the cloud by itself. Just re-paired? The site server learns of new registrations from the cloud within its refresh interval. Revoked in the portal? 'consystence-edge status' says so once the service has asked the cloud"
          : fix,
    );
  }
}

/** `cloudReached` null: air-gapped, the site server renews the token (its reachability is the site-server row). */
function tokenRow(reg: Registration, clock: EdgeClock, cloudReached: boolean | null): CheckResult {
  const expiresMs = reg.tokenExp * 1000;
  const leftMs = expiresMs - clock.now();
  const at = new Date(expiresMs).toISOString();
  if (cloudReached === null) {
    const renew = 'let the service reach the site server: it renews the token there by itself with the device key';
    if (leftMs <= 0) return row('token', 'warn', `expired at ${at}; the service renews it at the site server`, renew);
    return row('token', 'ok', `valid until ${at} (${humanDuration(leftMs)} left), renewed at the site server`);
  }
  const fix = 'let the service reach the cloud once: it refreshes the token by itself with the device key';
  if (leftMs <= 0)
    return cloudReached
      ? row(
          'token',
          'warn',
          `expired at ${at}; the cloud is reachable, so the service refreshes it when it connects`,
          fix,
        )
      : row(
          'token',
          'fail',
          `expired at ${at} and the cloud is out of reach: the site server will refuse this device`,
          fix,
        );
  if (leftMs < TOKEN_SOON_MS && !cloudReached)
    return row('token', 'warn', `expires in ${humanDuration(leftMs)} (${at}) and the cloud is out of reach`, fix);
  return row('token', 'ok', `valid until ${at} (${humanDuration(leftMs)} left)`);
}

const LABEL: Record<CheckLevel, string> = { ok: ' OK ', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

export function summarise(results: CheckResult[]): Record<CheckLevel, number> {
  const counts: Record<CheckLevel, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of results) counts[r.level] += 1;
  return counts;
}

export function formatDoctor(results: CheckResult[]): string {
  const lines = results.map(
    (r) =>
      `${LABEL[r.level]}  ${r.name.padEnd(13)} ${printable(r.detail, 2000)}${r.fix ? `\n      fix: ${r.fix}` : ''}`,
  );
  const counts = summarise(results);
  const verdict =
    counts.fail > 0
      ? 'this device has a problem: fix the FAIL rows first'
      : counts.warn > 0
        ? 'this device works; the WARN rows need attention'
        : 'all good';
  lines.push('', `${counts.ok} OK, ${counts.warn} WARN, ${counts.fail} FAIL, ${counts.skip} SKIP: ${verdict}`);
  return `${lines.join('\n')}\n`;
}
