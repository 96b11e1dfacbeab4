/**
 * Where the local producer API listens, from `--producer-port` / `--producer-socket` or their environment
 * variables. Loopback TCP by default (port 8719) because every language has an HTTP client; a Unix socket when
 * the device's applications run under other users and file permissions should decide who may enqueue.
 *
 *   --producer-port N     1..65535 on 127.0.0.1; 0 picks a free port (printed in the `started` line)
 *   --producer-port off   no producer API (the built-in metrics still flow)
 *   --producer-socket P   a Unix socket (mode 0660) instead of TCP; refused if P holds anything but a stale socket,
 *                         or if a directory on the way could be changed by another user (see producer/socket-path.ts)
 *
 * A socket path that cannot be used is a misconfiguration: `run` exits with the usage code at start instead of
 * running without the API its applications need (a busy TCP port is not: see DataPlane.start).
 */
import { z } from 'zod';
import { EdgeError } from '../errors.js';
import { PRODUCER_DEFAULT_PORT } from '../producer/schema.js';
import { claimSocketPath, ProducerSocketError } from '../producer/socket-path.js';

export type ProducerEndpoint = { kind: 'tcp'; port: number } | { kind: 'socket'; path: string } | { kind: 'off' };

const Port = z.union([z.literal('off'), z.coerce.number().int().min(0).max(65_535)]);
const SocketPath = z.string().min(1).max(107); // sun_path is 108 bytes with the terminating NUL

export function producerEndpoint(
  flags: { port?: string | undefined; socket?: string | undefined },
  env: NodeJS.ProcessEnv,
): ProducerEndpoint {
  const socket = flags.socket ?? (env.CONSYSTENCE_EDGE_PRODUCER_SOCKET || undefined);
  const port = flags.port ?? (env.CONSYSTENCE_EDGE_PRODUCER_PORT || undefined);
  if (socket !== undefined) {
    const parsed = SocketPath.safeParse(socket);
    if (!parsed.success) throw new EdgeError('USAGE', '--producer-socket: a path of 1..107 bytes');
    return { kind: 'socket', path: parsed.data };
  }
  if (port === undefined) return { kind: 'tcp', port: PRODUCER_DEFAULT_PORT };
  const parsed = Port.safeParse(port.trim() === '' ? 'x' : port);
  if (!parsed.success)
    throw new EdgeError('USAGE', `--producer-port: expected 0..65535 or 'off', got '${port.slice(0, 20)}'`);
  return parsed.data === 'off' ? { kind: 'off' } : { kind: 'tcp', port: parsed.data };
}

/** Makes the endpoint's socket path free for bind(); a path that cannot be used is an EdgeError('USAGE'). */
export async function claimProducerSocket(endpoint: ProducerEndpoint): Promise<void> {
  if (endpoint.kind !== 'socket') return;
  try {
    await claimSocketPath(endpoint.path);
  } catch (error) {
    if (error instanceof ProducerSocketError) throw new EdgeError('USAGE', error.message);
    throw error;
  }
}
