/**
 * Fault hooks on the artifact route, for HIL rigs (`POST /faults/update-artifact`): cut the connection after N
 * bytes of a response (the next download only, or every one) and cap the rate, so an edge's resume and its
 * patience can be tested against a real listener. `DELETE /faults` clears them with the broker's faults.
 */
import { Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Loopback writes are done well within this; the client then sees exactly `dropAfterBytes`, then a reset. */
const FLUSH_BEFORE_DROP_MS = 100;

export interface ArtifactFaultView {
  dropAfterBytes: number | null;
  dropMode: 'once' | 'always' | null;
  bytesPerSecond: number | null;
  dropped: number;
  /** Artifact bytes written to edges by every response so far: a resumed download adds only what was missing. */
  servedBytes: number;
}

export class ArtifactFaults {
  private drop: { afterBytes: number; mode: 'once' | 'always' } | undefined;
  private bytesPerSecond: number | undefined;
  private dropped = 0;
  private servedBytes = 0;

  set(options: { dropAfterBytes?: number | undefined; mode: 'once' | 'always'; bytesPerSecond?: number | undefined }) {
    this.drop =
      options.dropAfterBytes === undefined ? undefined : { afterBytes: options.dropAfterBytes, mode: options.mode };
    this.bytesPerSecond = options.bytesPerSecond;
  }

  reset(): void {
    this.drop = undefined;
    this.bytesPerSecond = undefined;
  }

  snapshot(): ArtifactFaultView {
    return {
      dropAfterBytes: this.drop?.afterBytes ?? null,
      dropMode: this.drop?.mode ?? null,
      bytesPerSecond: this.bytesPerSecond ?? null,
      dropped: this.dropped,
      servedBytes: this.servedBytes,
    };
  }

  /**
   * The transform one response goes through: a pass-through when no fault is set. A drop calls `cut` (which
   * destroys the connection) once the bytes before it have been written, and ends the stream there.
   */
  forResponse(cut: () => void): Transform {
    const drop = this.drop;
    if (drop?.mode === 'once') this.drop = undefined;
    const rate = this.bytesPerSecond;
    let sent = 0;
    let cutDone = false;
    const faults = this;
    return new Transform({
      transform(chunk: Buffer, _encoding, done) {
        // After a cut nothing more arrives (the file stream is destroyed with the socket), so `done` is harmless.
        const send = async (): Promise<void> => {
          // Chunks already in the pipe when the socket was cut: not sent, and not a second cut.
          if (cutDone) return;
          let piece = chunk;
          if (drop && sent + piece.length >= drop.afterBytes) piece = piece.subarray(0, drop.afterBytes - sent);
          if (rate) await sleep(Math.ceil((piece.length / rate) * 1000));
          sent += piece.length;
          faults.servedBytes += piece.length;
          if (piece.length) this.push(piece);
          if (!drop || sent < drop.afterBytes) return;
          // Let the bytes already pushed reach the socket before it is destroyed; nothing follows them.
          await sleep(FLUSH_BEFORE_DROP_MS);
          cutDone = true;
          faults.dropped++;
          cut();
        };
        send().then(
          () => done(),
          (error: Error) => done(error),
        );
      },
    });
  }
}
