/**
 * What `status` shows, assembled from the database only (the daemon may be another process, or down). The
 * report is built field by field from an allow-list; tokens, keys and codes have no field to land in.
 */
import { lstatSync } from 'node:fs';
import { SKEW_WARNING_MS, type EdgeClock } from '../clock.js';
import { describeSkew, humanDuration } from '../human-time.js';
import { REVOKED_LAST_ERROR } from '../session/messages.js';
import { printable } from '../../common/text/safe-text.js';
import { readPairingFileFailure, type PairingFileFailure } from '../stores/pairing-file-failure.js';
import type { Db } from '../../storage/index.js';
import { OutboxStore } from '../outbox/store.js';
import type { EdgeStores } from '../stores/index.js';
import type { LifecycleState, SiteEndpoint } from '../stores/status-store.js';
import { describeSiteEndpoint, siteEndpointReport } from './site-endpoint.js';
import { decodeJwt } from 'jose';
import { OfflineLicenceClaims, siteIssuer } from '../../protocol/index.js';
import { describePending, pendingAdvice, type PendingRequest } from '../pairing/pending-request.js';
import { loadSiteRegistration } from '../site-server/site-registration-store.js';
import { formatUpdateSummary, readUpdateSummary, type UpdateSummary } from '../update/summary.js';

export interface StatusReport {
  state: LifecycleState;
  daemon: { running: boolean; pid: number | null; bootId: string | null; updatedAt: string | null };
  edgeId: string | null;
  edgeUuid: string | null;
  orgId: string | null;
  siteId: string | null;
  cloudUrl: string | null;
  /** How this device registered: a pairing code with the cloud, or a licence key through the site server. */
  registeredVia: 'pairing-code' | 'site-connected' | 'site-air-gapped' | null;
  /** The site server `register` used (its edge address): null for a device paired with a code. */
  siteServerUrl: string | null;
  /** The site server's key fingerprint pinned at `register` (the only identity trusted for its HTTPS origin). */
  siteServerFingerprint: string | null;
  /** Air-gapped: the offline licence file the site server's token key comes from (its id and when it was made). */
  offlineLicence: { id: string; issuedAt: string } | null;
  /** Who signs and renews the edge token: the cloud's URL, or `site:{siteId}` for an air-gapped site server. */
  tokenIssuer: string | null;
  brokerUrl: string | null;
  /** The site endpoint and CAs in use, a new one waiting, the fallback (issue 17). */
  siteEndpoint: SiteEndpoint | null;
  hardwareId: string;
  connectedSince: string | null;
  /** While the service runs but is not connected: since when, and when it tries again. */
  offlineSince: string | null;
  nextAttemptInSeconds: number | null;
  pairedAt: string | null;
  tokenExpiresAt: string | null;
  tokenExpired: boolean | null;
  clockSkewMs: number;
  configVersion: number | null;
  /** Read from the outbox tables: exact even when the service is down (committed rows only). */
  queue: { depth: number; bytes: number; oldestTs: string | null; dropped: number };
  lastError: string | null;
  /** An unpaired device's pairing-URI file: whether one waits there, and why the last pairing from it failed. */
  pairingUriFile: { path: string; waiting: boolean; lastFailure: PairingFileFailure | null } | null;
  /** An interrupted `pair`/`register` of an unregistered device: which, with whom, for which edge, since when. */
  pendingRequest: PendingRequest | null;
  next: string | null;
  version: string;
  /** The running version's releases, an update in progress and the last result (issue 13). */
  update: UpdateSummary | null;
}

export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function buildStatusReport(
  state: EdgeStores,
  clock: EdgeClock,
  hardwareId: string,
  version: string,
  options: { pairingUriFile?: string; stateDir?: string } = {},
): StatusReport {
  const reg = state.registration.get();
  const snap = state.status.read();
  const config = state.config.current();
  // The daemon rewrites its snapshot at every heartbeat tick: a live pid with a fresh snapshot means it runs
  // (a stale one guards against the pid having been reused after a crash).
  const heartbeatMs = (config?.config.heartbeatSeconds ?? 30) * 1000;
  const running =
    !!snap &&
    isProcessAlive(snap.snapshot.pid) &&
    clock.now() - Date.parse(snap.updatedAt) < Math.max(3 * heartbeatMs, 120_000);
  let current: LifecycleState;
  let next: string | null = null;
  const pairingUriFile = !reg && options.pairingUriFile ? pairingFileStatus(state, options.pairingUriFile) : null;
  const pending = reg ? null : state.pending.get();
  const pendingRequest = pending ? describePending(pending) : null;
  if (!reg) {
    current = pendingRequest ? 'pairing' : 'unpaired';
    next = pendingRequest
      ? pendingAdvice(pendingRequest)
      : pairingUriFile?.waiting
        ? `the service pairs from ${pairingUriFile.path} when it starts${pairingUriFile.lastFailure ? ' (its last attempt failed, see above); fix the cause or replace the file, then restart the service' : ''}`
        : 'pair this device: consystence-edge pair --uri - (then paste the pairing URI from the Consystence portal)';
  } else if (reg.revokedAt) {
    current = 'revoked';
    next =
      'this device was removed from its site; a new pairing is needed: ask for a new pairing code, then run reset and pair';
  } else if (snap && running) {
    current = snap.snapshot.state;
  } else {
    current = 'paired';
    next = "the edge service is not running; start it (systemctl start consystence-edge) or run 'consystence-edge run'";
  }
  const queue = outboxQueue(state);
  const site = reg ? loadSiteRegistration(state.db) : null;
  return {
    state: current,
    daemon: {
      running,
      pid: running ? snap!.snapshot.pid : null,
      bootId: running ? snap!.snapshot.bootId : null,
      updatedAt: snap?.updatedAt ?? null,
    },
    edgeId: reg?.edgeId ?? null,
    edgeUuid: reg?.edgeUuid ?? null,
    orgId: reg?.orgId ?? null,
    siteId: reg?.siteId ?? null,
    cloudUrl: reg?.cloudUrl ?? null,
    registeredVia: !reg
      ? null
      : !site
        ? 'pairing-code'
        : site.mode === 'air-gapped'
          ? 'site-air-gapped'
          : 'site-connected',
    siteServerUrl: site?.siteServerUrl ?? null,
    siteServerFingerprint: site?.fingerprint ?? null,
    offlineLicence: site?.licence ? offlineLicenceFacts(site.licence) : null,
    tokenIssuer: !reg ? null : site?.mode === 'air-gapped' ? siteIssuer(reg.siteId) : reg.cloudUrl,
    brokerUrl: reg?.config.siteServer.mqtt.url ?? null,
    siteEndpoint: siteEndpointReport(state),
    hardwareId,
    connectedSince: running && current === 'online' ? snap!.snapshot.connectedSince : null,
    offlineSince: running && current !== 'online' ? snap!.snapshot.offlineSince : null,
    nextAttemptInSeconds:
      running && snap!.snapshot.nextAttemptAt
        ? Math.max(0, Math.ceil((Date.parse(snap!.snapshot.nextAttemptAt) - clock.now()) / 1000))
        : null,
    pairedAt: reg?.pairedAt ?? null,
    tokenExpiresAt: reg ? new Date(reg.tokenExp * 1000).toISOString() : null,
    tokenExpired: reg ? reg.tokenExp * 1000 <= clock.now() : null,
    clockSkewMs: clock.skewMs,
    configVersion: config?.version ?? null,
    queue,
    lastError: reg?.revokedAt ? REVOKED_LAST_ERROR : (snap?.snapshot.lastError ?? null),
    pairingUriFile,
    pendingRequest,
    next,
    version,
    update: options.stateDir ? readUpdateSummary(state.db, options.stateDir, version) : null,
  };
}

/** The licence file was verified at `register` before it was saved; here only its id and date are read for show. */
function offlineLicenceFacts(licence: string): StatusReport['offlineLicence'] {
  try {
    const claims = OfflineLicenceClaims.safeParse(decodeJwt(licence));
    return claims.success ? { id: claims.data.jti, issuedAt: new Date(claims.data.iat * 1000).toISOString() } : null;
  } catch {
    return null;
  }
}

function pairingFileStatus(state: EdgeStores, path: string): NonNullable<StatusReport['pairingUriFile']> {
  let waiting: boolean;
  try {
    // lstat: a read-only command looks, it does not follow links or open what it finds.
    waiting = lstatSync(path).isFile();
  } catch {
    waiting = false;
  }
  return { path, waiting, lastFailure: readPairingFileFailure(state) };
}

function outboxQueue(state: EdgeStores): StatusReport['queue'] {
  if (state.outboxInLegacyFile) return legacyOutboxQueue(state.outboxDb);
  const store = new OutboxStore(state.outboxDb);
  const { depth, bytes, dropped } = store.state();
  return { depth, bytes, oldestTs: depth > 0 ? store.oldestTs() : null, dropped };
}

/** An earlier version's edge.db has no persisted totals: count them (only until `run` splits the file). */
function legacyOutboxQueue(db: Db): StatusReport['queue'] {
  const row = db
    .prepare<{ depth: number; bytes: number; oldestTs: string | null; dropped: number }>(
      `SELECT COUNT(*) AS depth, COALESCE(SUM(bytes), 0) AS bytes, MIN(ts) AS oldestTs,
              (SELECT dropped FROM outbox_state WHERE id = 1) AS dropped FROM outbox`,
    )
    .get();
  return {
    depth: Number(row?.depth ?? 0),
    bytes: Number(row?.bytes ?? 0),
    oldestTs: row?.oldestTs ?? null,
    dropped: Number(row?.dropped ?? 0),
  };
}

const REGISTERED_VIA: Record<NonNullable<StatusReport['registeredVia']>, string> = {
  'pairing-code': 'cloud pairing with a pairing code',
  'site-connected': 'site server registration with a licence key (connected site: the token is signed by the cloud)',
  'site-air-gapped':
    'site server registration with a licence key (air-gapped site: the site server issues and renews the token under its offline licence file)',
};

export function formatStatus(report: StatusReport, nowMs: number = Date.now()): string {
  const since = (iso: string) => `${iso} (${humanDuration(nowMs - Date.parse(iso))} ago)`;
  const lines = [
    `state:            ${report.state}${report.daemon.running ? ` (service running, pid ${report.daemon.pid})` : ''}`,
    `edge:             ${report.edgeId ?? '-'}${report.edgeUuid ? ` (${report.edgeUuid})` : ''}`,
    `site:             ${report.siteId ?? '-'}`,
    `organisation:     ${report.orgId ?? '-'}`,
    `cloud:            ${report.registeredVia === 'site-air-gapped' ? '- (air-gapped site)' : (report.cloudUrl ?? '-')}`,
    `registered via:   ${report.registeredVia ? REGISTERED_VIA[report.registeredVia] : '-'}`,
    ...(report.siteServerUrl ? [`registered at:    ${report.siteServerUrl}`] : []),
    ...(report.siteServerFingerprint ? [`site server key:  ${report.siteServerFingerprint} (pinned)`] : []),
    ...(report.offlineLicence
      ? [`licence file:     ${report.offlineLicence.id}, made ${report.offlineLicence.issuedAt}`]
      : []),
    `token issuer:     ${report.tokenIssuer ?? '-'}`,
    `site server:      ${report.siteEndpoint ? describeSiteEndpoint(report.siteEndpoint) : (report.brokerUrl ?? '-')}`,
    report.offlineSince
      ? `offline since:    ${since(report.offlineSince)}${report.nextAttemptInSeconds !== null ? `; next attempt in ${report.nextAttemptInSeconds} s` : ''}`
      : `connected since:  ${report.connectedSince ?? '-'}`,
    `token expires:    ${report.tokenExpiresAt ?? '-'}${report.tokenExpired ? ' (expired: it is refreshed at the next connection)' : ''}`,
    clockLine(report),
    `config version:   ${report.configVersion ?? '-'}`,
    `queue:            ${report.queue.depth} messages, ${report.queue.bytes} bytes${report.queue.oldestTs ? `, oldest ${report.queue.oldestTs}` : ''}, ${report.queue.dropped} dropped when full or expired`,
    // The last error may quote the site server (a DISCONNECT reason): printable, like all network text.
    `last error:       ${report.lastError ? printable(report.lastError, 2000) : '-'}`,
    `hardware id:      ${report.hardwareId}`,
    ...(report.update ? formatUpdateSummary(report.update) : [`version:          ${report.version}`]),
  ];
  const file = report.pairingUriFile;
  if (file) {
    lines.push(
      `pairing-URI file: ${file.waiting ? `${file.path} (waiting: the service pairs from it when it starts)` : `none at ${file.path}`}`,
    );
    if (file.lastFailure)
      lines.push(
        `  last attempt:   failed at ${file.lastFailure.at}: ${printable(file.lastFailure.message, 1000)}${file.lastFailure.cloudCode ? ` (${file.lastFailure.cloudCode})` : ''}`,
      );
  }
  if (report.next) lines.push('', `next step: ${report.next}`);
  return `${lines.join('\n')}\n`;
}

/** Air-gapped, the clock was measured against the site server (it answers register and refresh), never the cloud. */
function clockLine(report: StatusReport): string {
  const reference = report.registeredVia === 'site-air-gapped' ? 'the site server' : 'the cloud';
  const wrong = Math.abs(report.clockSkewMs) > SKEW_WARNING_MS;
  return `clock:            ${describeSkew(report.clockSkewMs, reference)}${wrong ? ` (the local clock is wrong: tokens use ${reference}'s time; enable NTP)` : ''}`;
}
