import { describe, expect, it } from 'vitest';
import { FrameScanner } from '../../../src/mock/site-server/broker/packet-guard.js';

describe('FrameScanner', () => {
  it('passes well-formed packets split across chunks', () => {
    const s = new FrameScanner(1000);
    const publish = Buffer.concat([Buffer.from([0x30, 0x85, 0x01]), Buffer.alloc(133, 1)]); // 133-byte body
    const ping = Buffer.from([0xc0, 0x00]);
    const stream = Buffer.concat([publish, ping, publish]);
    for (let i = 0; i < stream.length; i += 7) expect(s.push(stream.subarray(i, i + 7))).toBeUndefined();
  });

  it('refuses a packet announcing more than the limit, before its body arrives', () => {
    expect(new FrameScanner(1000).push(Buffer.from([0x30, 0xe9, 0x07]))).toMatch(/1001 bytes exceeds 1000/);
  });

  it('refuses a remaining length longer than four bytes', () => {
    expect(new FrameScanner(1 << 30).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toMatch(/malformed/);
  });
});
