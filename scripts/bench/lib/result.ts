/** What every bench returns to the orchestrator, and what lands in out/bench/<name>.json. */
import type { TableRow, Target } from './stats.js';

export interface BenchResult {
  name: string;
  title: string;
  /** One table per comparison; the baseline row of each has role 'baseline'. */
  tables: Array<{ title: string; rows: TableRow[] }>;
  targets: Target[];
  notes: string[];
  /** Raw samples and anything else worth keeping. */
  extra?: Record<string, unknown>;
  /** Set when the bench could not run (the summary records why, it does not stop the suite). */
  unavailable?: string;
}

export interface Preset {
  name: 'quick' | 'full';
  coldStartRuns: number;
  /** The outbox backlog of the cold-start-backlog bench, MiB. */
  backlogMb: number;
  pairingRuns: number;
  memoryRuns: number;
  idleSeconds: number;
  loadMessages: number;
  fleetSizes: number[];
  /** Download-and-apply runs of a runtime bundle (update bench). */
  updateRuns: number;
}

export const PRESETS: Record<'quick' | 'full', Preset> = {
  quick: {
    name: 'quick',
    coldStartRuns: 7,
    backlogMb: 64,
    pairingRuns: 5,
    memoryRuns: 1,
    idleSeconds: 5,
    loadMessages: 100_000,
    fleetSizes: [100],
    updateRuns: 3,
  },
  full: {
    name: 'full',
    coldStartRuns: 25,
    backlogMb: 1024,
    pairingRuns: 20,
    memoryRuns: 3,
    idleSeconds: 15,
    loadMessages: 1_000_000,
    fleetSizes: [1_000, 5_000, 10_000],
    updateRuns: 10,
  },
};
