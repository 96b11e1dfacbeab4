/**
 * The reachability probes `doctor` builds its rows from. Each is bounded in time and never throws: a dead
 * dependency is an answer, not an exception.
 */
import { lookup } from 'node:dns/promises';
import { connect, isIP } from 'node:net';

export const PROBE_TIMEOUT_MS = 5_000;

/** Resolves `host` (an address needs no DNS); null when it resolves, else why not. */
export async function dnsProblem(host: string): Promise<string | null> {
  if (isIP(host.replace(/^\[|\]$/g, ''))) return null;
  try {
    await Promise.race([lookup(host), rejectAfter(PROBE_TIMEOUT_MS, 'timed out')]);
    return null;
  } catch (error) {
    return `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

/** Opens and closes one TCP connection; null when it connects, else why not. */
export function tcpProblem(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const timer = setTimeout(() => done(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`), PROBE_TIMEOUT_MS);
    function done(why: string | null) {
      clearTimeout(timer);
      socket.destroy();
      resolve(why === null ? null : `${host}:${port} not reachable (${why})`);
    }
    socket.once('connect', () => done(null));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

function rejectAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref?.());
}

export function portOf(url: URL, fallback: number): number {
  return Number(url.port || fallback);
}
