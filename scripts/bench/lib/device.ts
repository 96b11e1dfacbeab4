/** A paired test device: its state dir and ids, how to start `run`, and its current token (for the baselines). */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { IDENTITY_DB_FILE } from '../../../src/edge/stores/index.js';
import { start, TSX_LOADER, type Child } from './proc.js';
import type { World } from './world.js';

export interface Device {
  edgeId: string;
  stateDir: string;
  hardwareId: string;
}

export function newDevice(world: World, edgeId: string): Device {
  const stateDir = join(world.work, edgeId);
  mkdirSync(stateDir, { recursive: true });
  return { edgeId, stateDir, hardwareId: createHash('sha256').update(randomBytes(32)).digest('hex') };
}

/** How a device process is started: the compiled binary, `bun src/edge/main.ts` or node + tsx. */
export interface Launcher {
  label: string;
  command: string;
  prefix: string[];
  env?: NodeJS.ProcessEnv;
}

export function binaryLauncher(path: string, env?: NodeJS.ProcessEnv, label = 'compiled binary'): Launcher {
  return { label, command: path, prefix: [], ...(env ? { env } : {}) };
}
export function nodeLauncher(): Launcher {
  return {
    label: 'node --import tsx src/edge/main.ts',
    command: process.execPath,
    prefix: [...TSX_LOADER, 'src/edge/main.ts'],
  };
}

/** `--producer-port 0`: a free port (the default 8719 could collide with a colleague's test on this machine). */
export function startRun(launcher: Launcher, device: Device, extra: string[] = []): Child {
  return start(
    launcher.command,
    [
      ...launcher.prefix,
      'run',
      '--state-dir',
      device.stateDir,
      '--hardware-id',
      device.hardwareId,
      '--json',
      '--log-level',
      'warn',
      '--producer-port',
      '0',
      ...extra,
    ],
    {
      env: { ...process.env, ...launcher.env },
    },
  );
}

export function readRegistration(device: Device): { edgeId: string; siteId: string; token: string } {
  const db = new Database(join(device.stateDir, IDENTITY_DB_FILE), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT edge_id, site_id, edge_token FROM registration WHERE id = 1').get() as
      | { edge_id: string; site_id: string; edge_token: string }
      | undefined;
    if (!row) throw new Error(`${device.edgeId} is not paired`);
    return { edgeId: row.edge_id, siteId: row.site_id, token: row.edge_token };
  } finally {
    db.close();
  }
}

export const statusTopic = (siteId: string, edgeId: string) => `consystence/v1/sites/${siteId}/edges/${edgeId}/status`;
