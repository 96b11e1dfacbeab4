/**
 * sd_notify for the service unit (Type=notify, WatchdogSec=): READY=1 once the state is open, WATCHDOG=1 from the
 * event loop every WATCHDOG_USEC/2, STOPPING=1 when shutdown begins, STATUS= lines on the way. A hung loop stops the
 * pings and systemd restarts the service. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
 *
 * The protocol is one datagram per message to the AF_UNIX socket in NOTIFY_SOCKET ("@name" is abstract).
 * Node's standard library has no datagram Unix socket, so:
 * - Bun (the device binary): socket()/sendto() from libc through bun:ffi. The datagram comes from the runtime's
 *   own PID, which NotifyAccess=main accepts; no process is spawned per ping.
 * - Node (development): `systemd-notify` per message. Its datagram comes from a child PID, so a unit running the
 *   runtime under Node needs NotifyAccess=all.
 * No native addon (the `sd-notify` package is one): the binary has to stay a single file.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../../common/log/log.js';

export interface ServiceNotifier {
  /** READY=1, then the watchdog pings start if systemd asked for them. */
  ready(status?: string): void;
  status(text: string): void;
  /** STOPPING=1 (once) and no more pings. */
  stopping(): void;
  /** Stops the pings and releases the socket. */
  close(): void;
}

/** Sends one notification datagram; resolves false (never throws) when it could not be sent. */
export type NotifySend = (message: string) => Promise<boolean>;

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';

/**
 * The longest delay a Node or Bun timer takes (2^31-1 ms, ~24.8 days). A longer one is not honoured: Node warns
 * (TimeoutOverflowWarning) and fires after 1 ms, so WATCHDOG_USEC over ~49.7 days flooded systemd with pings.
 */
export const MAX_WATCHDOG_INTERVAL_MS = 2_147_483_647;
/**
 * The shortest ping interval: a WATCHDOG_USEC of a few µs would otherwise ping every millisecond. Not 1 s: with
 * WatchdogSec=1s a 1 s interval would get a healthy service killed; 10 datagrams a second cost nothing.
 */
export const MIN_WATCHDOG_INTERVAL_MS = 100;

/** Watchdog interval in ms, or null when systemd asked for none or asked another process (WATCHDOG_PID). */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== String(pid)) return null;
  // Half the timeout, as sd_watchdog_enabled(3) advises: one late ping never gets the service killed.
  const half = Math.floor(usec / 2000);
  return Math.min(MAX_WATCHDOG_INTERVAL_MS, Math.max(MIN_WATCHDOG_INTERVAL_MS, half));
}

async function transportFor(socketPath: string): Promise<{ send: NotifySend; close(): void }> {
  if (isBun) return (await import('./notify-socket-bun.js')).openNotifySocket(socketPath);
  return {
    send: (message) =>
      new Promise((resolve) => {
        execFile('systemd-notify', [message], { timeout: 10_000 }, (error) => resolve(!error));
      }),
    close: () => {},
  };
}

const NOOP: ServiceNotifier = { ready: () => {}, status: () => {}, stopping: () => {}, close: () => {} };

export async function systemdNotifier(env: NodeJS.ProcessEnv, logger: Logger): Promise<ServiceNotifier> {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return NOOP;
  let transport: { send: NotifySend; close(): void };
  try {
    transport = await transportFor(socketPath);
  } catch (error) {
    logger.warn('systemd_notify_unavailable', { error });
    return NOOP;
  }
  let failures = 0;
  const send = (message: string) => {
    transport
      .send(message)
      .then((sent) => {
        // Logged on the first failure only: a broken socket would otherwise log every ping.
        if (!sent && failures++ === 0) logger.warn('systemd_notify_failed', { message: message.split('=')[0] });
      })
      .catch((error: unknown) => logger.warn('systemd_notify_failed', { error }));
  };
  const intervalMs = watchdogIntervalMs(env);
  if (intervalMs === MIN_WATCHDOG_INTERVAL_MS && Number(env.WATCHDOG_USEC) < 2000 * MIN_WATCHDOG_INTERVAL_MS)
    logger.warn('systemd_watchdog_too_short', {
      watchdogUsec: Number(env.WATCHDOG_USEC),
      intervalMs,
      note: 'WatchdogSec is shorter than two ping intervals; systemd may kill the service: raise WatchdogSec',
    });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const stopPings = () => {
    clearInterval(timer);
    timer = undefined;
  };
  return {
    ready(status) {
      send(status ? `READY=1\nSTATUS=${status}` : 'READY=1');
      if (intervalMs !== null && !timer && !stopped) {
        // A timer on the event loop: if the loop hangs, the pings stop, which is the point. unref: the pings
        // never keep an otherwise finished process alive.
        timer = setInterval(() => send('WATCHDOG=1'), intervalMs);
        timer.unref();
      }
    },
    status: (text) => send(`STATUS=${text}`),
    stopping() {
      if (stopped) return;
      stopped = true;
      stopPings();
      send('STOPPING=1');
    },
    close() {
      stopPings();
      transport.close();
    },
  };
}
