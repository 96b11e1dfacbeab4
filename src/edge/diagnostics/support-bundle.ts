/**
 * Collects a support bundle (thin-edge's `tedge diag collect`, Azure's `iotedge support-bundle`): status, doctor,
 * version and build, the running config and its history, outbox statistics, the full integrity check, recent logs
 * and system facts, as one .tar.gz. Strictly read-only: the database is opened read-only (never created,
 * migrated or moved aside), so it works with the service running or stopped, and on a damaged device. Each part is
 * collected on its own; one that fails is named in `manifest.json` and the others still go in. Every text is
 * scrubbed of the device's secrets before it is packed (secrets.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabaseReadOnly, runtimeDriverName, schemaVersion, type Db } from '../../storage/index.js';
import { identityMigrations, outboxMigrations } from '../migrations/index.js';
import { EdgeClock } from '../clock.js';
import { edgeFetchFor } from '../site-server/site-registration-store.js';
import { resolveHardwareId } from '../identity/hardware-id.js';
import { OutboxStore } from '../outbox/store.js';
import { loadClockOffset } from '../stores/clock-offset-store.js';
import { IDENTITY_DB_FILE, storesFor, type EdgeStores } from '../stores/index.js';
import { stateTrustPolicy } from '../stores/trust.js';
import { stateFiles } from '../stores/layout.js';
import { runDoctor, summarise } from '../status/doctor.js';
import { probeConnect } from '../session/probe.js';
import { buildStatusReport } from '../status/report.js';
import { BUILD_TIME, VERSION } from '../version.js';
import { logFileNames, MAX_LOG_FILES } from './log-file.js';
import { pairingCodesIn, scrub, secretVariants } from './secrets.js';
import { systemFacts } from './system-facts.js';
import { packTarGz, type TarEntry } from '../../common/tar/ustar.js';

export interface SupportBundleOptions {
  stateDir: string;
  /** `--hardware-id`, as the service was given it. */
  hardwareId?: string;
  /** Only log lines at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** The pairing-URI file: listed (present, size, mode), never packed; its code is scrubbed everywhere. */
  pairingUriFile: string;
}

export interface SupportBundle {
  data: Buffer;
  sha256: string;
  files: string[];
}

/** The most log bytes a bundle reads, newest first (the files are bounded by config, up to 10 × 64 MiB). */
const MAX_LOG_READ_BYTES = 64 * 1024 * 1024;
const MAX_URI_FILE_BYTES = 4096;
const BUNDLE_DIR = 'consystence-edge-support';

/** Reads a file this process did not create: no link followed, regular files only, at most `max` bytes (the tail). */
function readUntrusted(path: string, max: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return null;
    const length = Math.min(stat.size, max);
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, stat.size - length + read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function lineTime(line: string): number {
  const match = /"ts":"([^"]+)"/.exec(line.slice(0, 80));
  return match ? Date.parse(match[1]!) : Number.NaN;
}

/**
 * The log files as one text, oldest line first, at most MAX_LOG_READ_BYTES of the newest; lines before `sinceMs`
 * left out (lines without a time are kept). A file read from its middle loses its first, partial line.
 */
function recentLogs(stateDir: string, sinceMs: number | undefined): { text: string; files: number; lines: number } {
  const newestFirst: string[] = [];
  let budget = MAX_LOG_READ_BYTES;
  for (const name of logFileNames(MAX_LOG_FILES)) {
    if (budget <= 0) break;
    const content = readUntrusted(join(stateDir, name), budget);
    if (!content) continue;
    budget -= content.length;
    const text = content.toString('utf8');
    newestFirst.push(budget <= 0 ? text.slice(text.indexOf('\n') + 1) : text);
  }
  let lines = newestFirst.reverse().join('').split('\n').filter(Boolean);
  if (sinceMs !== undefined)
    lines = lines.filter((line) => {
      const at = lineTime(line);
      return Number.isNaN(at) || at >= sinceMs;
    });
  return { text: lines.length ? `${lines.join('\n')}\n` : '', files: newestFirst.length, lines: lines.length };
}

function stateDirListing(stateDir: string): Array<Record<string, unknown>> {
  return readdirSync(stateDir)
    .sort()
    .slice(0, 200)
    .map((name) => {
      const stat = lstatSync(join(stateDir, name));
      return {
        name,
        type: stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'link' : 'other',
        bytes: stat.size,
        mode: (stat.mode & 0o7777).toString(8).padStart(4, '0'),
        uid: stat.uid,
        mtime: stat.mtime.toISOString(),
      };
    });
}

function fileFacts(path: string): Record<string, unknown> {
  try {
    const stat = lstatSync(path);
    return {
      path,
      present: true,
      type: stat.isFile() ? 'file' : stat.isSymbolicLink() ? 'link' : 'other',
      bytes: stat.size,
      mode: (stat.mode & 0o7777).toString(8).padStart(4, '0'),
      content: '[redacted: the pairing-URI file is a secret]',
    };
  } catch {
    return { path, present: false };
  }
}

function integrityReport(db: Db): Record<string, unknown> {
  const rows = db.prepare<Record<string, string>>('PRAGMA integrity_check(100)').all();
  const messages = rows.map((row) => String(Object.values(row)[0]));
  return { ok: messages.length === 1 && messages[0] === 'ok', messages };
}

function databaseSections(state: EdgeStores, options: SupportBundleOptions): Array<[string, () => Promise<unknown>]> {
  const { db } = state;
  const clock = new EdgeClock(loadClockOffset(state.kv), () => {
    // Read-only: a skew measured by doctor is not saved from here.
  });
  const hardwareId = resolveHardwareId(options.hardwareId, { stateDir: options.stateDir, readOnly: true }).id;
  const latest = (migrations: readonly { version: number }[]) => migrations[migrations.length - 1]!.version;
  return [
    [
      'schema.json',
      async () => ({
        schemaVersion: schemaVersion(db),
        buildSchemaVersion: latest(identityMigrations),
        outboxSchemaVersion: schemaVersion(state.outboxDb),
        buildOutboxSchemaVersion: latest(outboxMigrations),
        outboxInLegacyFile: state.outboxInLegacyFile,
      }),
    ],
    ['status.json', async () => buildStatusReport(state, clock, hardwareId, VERSION)],
    [
      'doctor.json',
      async () => {
        const checks = await runDoctor({
          state,
          clock,
          fetch: edgeFetchFor(db),
          status: () => buildStatusReport(state, clock, hardwareId, VERSION),
          probeLogin: (registration) => probeConnect(registration),
        });
        return { ok: checks.every((c) => c.ok), summary: summarise(checks), checks };
      },
    ],
    [
      'integrity.json',
      async () => ({
        identity: integrityReport(db),
        outbox: state.outboxDb === db ? null : integrityReport(state.outboxDb),
      }),
    ],
    [
      'config.json',
      async () => ({
        running: state.config.current(),
        history: state.config.history(200),
        atPairing: state.registration.get()?.config ?? null,
      }),
    ],
    [
      'outbox.json',
      async () => {
        // An earlier version's edge.db has no persisted totals: status.json counted them.
        if (state.outboxInLegacyFile) return { outboxInLegacyFile: true };
        const store = new OutboxStore(state.outboxDb);
        return { ...store.state(), oldestTs: store.oldestTs() };
      },
    ],
  ];
}

/** The device's own secrets, read so that they can be scrubbed from every part of the bundle. */
function deviceSecrets(state: EdgeStores | null, uriFileText: string | null): string[] {
  const values: Array<string | undefined> = [];
  const attempt = (read: () => void) => {
    try {
      read();
    } catch {
      // A part that cannot be read cannot leak either.
    }
  };
  if (state) {
    attempt(() => values.push(state.registration.get()?.edgeToken));
    attempt(() => {
      const identity = state.identity.get();
      if (identity) values.push(identity.privateJwk.d, JSON.stringify(identity.privateJwk));
    });
  }
  if (uriFileText) values.push(uriFileText.trim(), ...pairingCodesIn(uriFileText));
  return secretVariants(values);
}

export async function collectSupportBundle(options: SupportBundleOptions): Promise<SupportBundle> {
  const createdAt = new Date();
  const manifest: Record<string, unknown> = {
    kind: 'consystence-edge support bundle',
    createdAt: createdAt.toISOString(),
    since: options.sinceMs !== undefined ? new Date(options.sinceMs).toISOString() : null,
    stateDir: options.stateDir,
  };
  const parts: Record<string, string> = {};
  const problems: Record<string, string> = {};
  const add = async (name: string, collect: () => Promise<unknown>) => {
    try {
      const value = await collect();
      parts[name] = typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`;
    } catch (error) {
      problems[name] = (error as Error).message.slice(0, 500);
    }
  };

  const files = stateFiles(options.stateDir);
  let db: Db | null = null;
  let outboxDb: Db | null = null;
  try {
    db = await openDatabaseReadOnly(files.identity, stateTrustPolicy());
    outboxDb = files.outbox === files.identity ? db : await openDatabaseReadOnly(files.outbox, stateTrustPolicy());
  } catch (error) {
    problems[db ? 'outbox.db' : IDENTITY_DB_FILE] = (error as Error).message.slice(0, 500);
  }
  const state = db ? { ...storesFor(db, outboxDb ?? db), outboxInLegacyFile: files.outboxInLegacyFile } : null;
  const uriFileText = readUntrusted(options.pairingUriFile, MAX_URI_FILE_BYTES)?.toString('utf8') ?? null;
  const secrets = deviceSecrets(state, uriFileText);
  try {
    const bun = (globalThis as { Bun?: { version: string } }).Bun;
    await add('version.json', async () => ({
      version: VERSION,
      buildTime: BUILD_TIME,
      runtime: bun ? `bun ${bun.version}` : `node ${process.versions.node}`,
      sqliteDriver: runtimeDriverName(),
      platform: process.platform,
      arch: process.arch,
    }));
    if (state) for (const [name, collect] of databaseSections(state, options)) await add(name, collect);
    await add('system.json', () => systemFacts(options.stateDir));
    await add('state-dir.json', async () => stateDirListing(options.stateDir));
    await add('pairing-uri-file.json', async () => fileFacts(options.pairingUriFile));
    const logs = recentLogs(options.stateDir, options.sinceMs);
    manifest.logs = { files: logs.files, lines: logs.lines };
    parts['logs/edge.log'] = logs.text;
  } finally {
    if (outboxDb && outboxDb !== db) outboxDb.close();
    db?.close();
  }
  manifest.problems = problems;
  parts['manifest.json'] = `${JSON.stringify(manifest, null, 2)}\n`;

  const entries: TarEntry[] = Object.entries(parts).map(([name, text]) => ({
    name: `${BUNDLE_DIR}/${name}`,
    data: Buffer.from(scrub(text, secrets)),
  }));
  const data = packTarGz(entries, createdAt);
  return {
    data,
    sha256: createHash('sha256').update(data).digest('hex'),
    files: entries.map((e) => e.name),
  };
}
