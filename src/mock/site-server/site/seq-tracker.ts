/**
 * `seq` bookkeeping for one edge (CONTRACT §4: per edge, strictly increasing, shared by telemetry and events).
 * Keeps the highest seq seen and the open gaps below it, not every seq: a redelivery below the highest is a
 * duplicate unless it falls into an open gap, in which case it fills that gap (late, out-of-order delivery is
 * not loss). Open gaps are capped; the oldest are forgotten first and counted as such.
 */
export interface Gap {
  from: number;
  to: number;
  detectedAt: string;
}

export type SeqVerdict = 'new' | 'duplicate' | 'late';

const MAX_OPEN_GAPS = 1000;

export class SeqTracker {
  highest = 0;
  /** Distinct seqs received (new ones plus late fills). */
  accepted = 0;
  duplicates = 0;
  gapsDetected = 0;
  forgottenGaps = 0;
  private open: Gap[] = [];

  /** Records one seq and says whether it is new, a late fill of a gap, or a duplicate. */
  record(seq: number, nowIso: string): SeqVerdict {
    if (seq > this.highest) {
      if (seq > this.highest + 1) {
        this.open.push({ from: this.highest + 1, to: seq - 1, detectedAt: nowIso });
        this.gapsDetected++;
        if (this.open.length > MAX_OPEN_GAPS) {
          this.open.shift();
          this.forgottenGaps++;
        }
      }
      this.highest = seq;
      this.accepted++;
      return 'new';
    }
    const index = this.open.findIndex((g) => seq >= g.from && seq <= g.to);
    if (index < 0) {
      this.duplicates++;
      return 'duplicate';
    }
    const gap = this.open[index]!;
    const pieces: Gap[] = [];
    if (gap.from < seq) pieces.push({ ...gap, to: seq - 1 });
    if (seq < gap.to) pieces.push({ ...gap, from: seq + 1 });
    this.open.splice(index, 1, ...pieces);
    this.accepted++;
    return 'late';
  }

  /** The ranges still missing, oldest first. */
  gaps(): Gap[] {
    return this.open.map((g) => ({ ...g }));
  }

  /** How many seqs are missing in total. */
  missing(): number {
    return this.open.reduce((sum, g) => sum + (g.to - g.from + 1), 0);
  }
}
