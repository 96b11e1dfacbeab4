/**
 * A datagram to NOTIFY_SOCKET from Bun: socket(AF_UNIX, SOCK_DGRAM) and sendto() from libc via bun:ffi (Bun's own
 * socket APIs are stream or UDP only). Only imported under Bun. Linux constants, the same on x86-64 and arm64.
 */
import { dlopen, FFIType } from 'bun:ffi';
import type { NotifySend } from './notify.js';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
const SUN_PATH_MAX = 108;

/** struct sockaddr_un for a path or, with a leading "@", an abstract name (no NUL terminator, length counts). */
function socketAddress(path: string): { address: Uint8Array; length: number } {
  const name = Buffer.from(path, 'utf8');
  if (name.length === 0 || name.length >= SUN_PATH_MAX) throw new Error(`NOTIFY_SOCKET is not a usable socket path`);
  const address = new Uint8Array(2 + SUN_PATH_MAX);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(name, 2);
  const abstract = path.startsWith('@');
  if (abstract) address[2] = 0;
  return { address, length: 2 + name.length + (abstract ? 0 : 1) };
}

export function openNotifySocket(path: string): { send: NotifySend; close(): void } {
  const { address, length } = socketAddress(path);
  const libc = dlopen('libc.so.6', {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: {
      args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32],
      returns: FFIType.i64,
    },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
  const fd = libc.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    libc.close();
    throw new Error('socket(AF_UNIX, SOCK_DGRAM) failed');
  }
  return {
    send: async (message) => {
      const bytes = Buffer.from(message, 'utf8');
      return Number(libc.symbols.sendto(fd, bytes, bytes.length, MSG_NOSIGNAL, address, length)) === bytes.length;
    },
    close: () => {
      libc.symbols.close(fd);
      libc.close();
    },
  };
}
