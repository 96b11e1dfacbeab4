/**
 * A framing guard in front of aedes. aedes' parser buffers a whole packet before it looks at it, so one client
 * announcing a 200 MB PUBLISH would make the broker hold 200 MB. The guard reads only each MQTT fixed header
 * (type byte + variable-length "remaining length") as bytes stream past and destroys the socket as soon as a
 * packet announces more than `maxPacketBytes`, or the length field itself is malformed (more than 4 bytes).
 */
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import type { Socket } from 'node:net';

/** Incremental MQTT fixed-header scanner; `push` returns an error message when the stream must be cut. */
export class FrameScanner {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly maxPacketBytes: number) {}

  push(chunk: Uint8Array): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.state = 'type';
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (++this.lengthBytes > 4) return 'malformed remaining length';
      if (byte & 0x80) continue;
      if (this.length > this.maxPacketBytes) return `packet of ${this.length} bytes exceeds ${this.maxPacketBytes}`;
      this.bodyLeft = this.length;
      this.state = this.length > 0 ? 'body' : 'type';
    }
    return undefined;
  }
}

/**
 * Wraps a socket so aedes reads through the scanner and writes straight to the socket. `onReject` is told why a
 * connection was cut (for the log).
 */
export function guardSocket(socket: Socket, maxPacketBytes: number, onReject: (reason: string) => void): Duplex {
  const scanner = new FrameScanner(maxPacketBytes);
  const inbound = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const problem = scanner.push(chunk);
      if (problem) {
        onReject(problem);
        socket.destroy();
        callback();
        return;
      }
      callback(null, chunk);
    },
  });
  socket.pipe(inbound);
  const duplex = Duplex.from({ readable: inbound, writable: socket });
  // Closing either side closes the connection: aedes destroys the duplex, a peer reset destroys the socket.
  duplex.on('close', () => socket.destroy());
  socket.on('close', () => duplex.destroy());
  socket.on('error', () => duplex.destroy());
  return duplex;
}
