/**
 * Power-cut harness, library level. A real child process (Bun, as on the device) enqueues into a real SQLite file
 * and prints every seq whose enqueue resolved; the test SIGKILLs it at a random moment (sometimes during open and
 * migration), reopens the file and checks: integrity, every acknowledged seq present, seqs never reused or going
 * back. SIGKILL proves atomicity against a process crash; the fsync half of a real power loss is what
 * synchronous=FULL is for and cannot be observed from inside one machine.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkIntegrity, openDatabase } from '../../../src/storage/index.js';
import { startEntry, type Runtime } from '../../helpers/process.js';
import { tempDir } from '../../helpers/tmp.js';
import { fixtureMigrations } from './fixtures/open-outbox.js';

const TRIALS = 50;
const RUNTIME: Runtime = process.env.POWER_CUT_RUNTIME === 'node' ? 'node' : 'bun';

/** Every [seq, lastSeq] range the child reported, expanded. */
function ackedSeqs(lines: Array<Record<string, unknown>>): number[] {
  const seqs: number[] = [];
  for (const line of lines) {
    const range = line.acked as [number, number] | undefined;
    if (range) for (let s = range[0]; s <= range[1]; s++) seqs.push(s);
  }
  return seqs;
}

describe('power cut during enqueue bursts', () => {
  it(`keeps every acknowledged seq and never reuses one across ${TRIALS} SIGKILLs`, async () => {
    const path = join(tempDir(), 'edge.db');
    const everAcked = new Set<number>();
    let highestAcked = 0;
    const results: string[] = [];

    for (let trial = 1; trial <= TRIALS; trial++) {
      const child = startEntry(RUNTIME, 'test/integration/edge-outbox/fixtures/enqueue-bursts.ts', [path]);
      // One trial in five dies before it is ready (open, quick_check, migration); the rest mid-burst.
      const earlyKill = trial % 5 === 0;
      if (!earlyKill) await child.waitForLine((l) => l.ready === true, 20_000);
      const delay = Math.floor(Math.random() * (earlyKill ? 120 : 250));
      await new Promise((r) => setTimeout(r, delay));
      const exit = await child.kill('SIGKILL');
      expect(
        exit.signal === 'SIGKILL' || exit.code !== 0,
        `trial ${trial} child exited on its own: ${child.stderr.join('\n')}`,
      ).toBe(true);

      const acked = ackedSeqs(child.lines);
      const { db } = await openDatabase({ path, migrations: fixtureMigrations, onCorrupt: 'throw' });
      try {
        const integrity = checkIntegrity(db, 'full');
        const stored = new Set(
          db
            .prepare<{ seq: number }>('SELECT seq FROM outbox')
            .all()
            .map((r) => Number(r.seq)),
        );
        const nextSeq = Number(db.prepare<{ next_seq: number }>('SELECT next_seq FROM outbox_state').get()!.next_seq);
        const maxStored = stored.size ? Math.max(...stored) : 0;
        const missing = acked.filter((s) => !stored.has(s));
        const reused = acked.filter((s) => everAcked.has(s));
        const wentBack = acked.length > 0 && Math.min(...acked) <= highestAcked;
        results.push(
          `trial ${String(trial).padStart(2)}: killed ${earlyKill ? 'early' : 'mid-burst'} after ${delay} ms, acked ${acked.length}` +
            `${acked.length ? ` (${Math.min(...acked)}..${Math.max(...acked)})` : ''}, rows ${stored.size}, next_seq ${nextSeq}, ` +
            `integrity ${integrity ?? 'ok'}, missing ${missing.length}, reused ${reused.length}${wentBack ? ', WENT BACK' : ''}`,
        );
        expect(integrity, `trial ${trial}`).toBeNull();
        expect(missing, `trial ${trial}: acknowledged but not stored`).toEqual([]);
        expect(reused, `trial ${trial}: seq reused`).toEqual([]);
        expect(wentBack, `trial ${trial}: seq went back`).toBe(false);
        expect(nextSeq, `trial ${trial}: next_seq behind the stored rows`).toBeGreaterThan(maxStored);
        for (const s of acked) everAcked.add(s);
        if (acked.length) highestAcked = Math.max(highestAcked, ...acked);
      } finally {
        db.close();
      }
    }
    console.log(`power-cut (enqueue, ${RUNTIME}):\n${results.join('\n')}\ntotal acknowledged: ${everAcked.size}`);
    expect(everAcked.size).toBeGreaterThan(0);
  }, 180_000);
});
