/**
 * `watch`: what the device publishes and receives, one line per message, live from the running service (its
 * watch socket in the state dir), as `tedge mqtt sub` lets a technician do. Read-only, and never a second MQTT
 * session (that would take the device's client id and knock the service off the broker). Ctrl-C ends it.
 */
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { WATCH_BUSY, watchSocketPath } from '../diagnostics/watch-server.js';
import { formatTrafficLine, type TrafficLine } from '../diagnostics/traffic-summary.js';
import { EdgeError, ExitCodes } from '../errors.js';
import { commonSettings, parseFlags, type Subcommand } from './common.js';

export const watch: Subcommand = {
  describe: 'print each MQTT message the running service publishes and receives (secrets never shown)',
  usage: 'consystence-edge watch [--json]',
  async run(io) {
    const settings = commonSettings(parseFlags(io.argv, {}), io.env);
    const path = watchSocketPath(settings.stateDir);
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new EdgeError(
            'PRODUCER_UNREACHABLE',
            error.code === 'EACCES'
              ? `no permission to open ${path}; run as root or as the service user`
              : `the edge service is not running (nothing answers at ${path}); start it: systemctl start consystence-edge`,
          ),
        ),
      );
    });
    if (!settings.json) io.stderr(`watching ${path}: one line per message (→ published, ← received); Ctrl-C to stop\n`);
    return new Promise<number>((resolve) => {
      let stoppedHere = false;
      let refusedBusy = false;
      const stop = () => {
        stoppedHere = true;
        socket.destroy();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      createInterface({ input: socket }).on('line', (text) => {
        let line: unknown;
        try {
          line = JSON.parse(text);
        } catch {
          return io.stdout(`${text}\n`);
        }
        if ((line as { error?: unknown }).error === WATCH_BUSY.error) {
          refusedBusy = true;
          return;
        }
        io.stdout(`${settings.json ? text : formatTrafficLine(line as TrafficLine)}\n`);
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        if (stoppedHere) return resolve(ExitCodes.OK);
        if (refusedBusy) {
          io.stderr(`${WATCH_BUSY.message}\n`);
          return resolve(ExitCodes.INTERNAL);
        }
        io.stderr('the edge service closed the feed (it stopped or restarted)\n');
        resolve(ExitCodes.PRODUCER_UNREACHABLE);
      });
    });
  },
};
