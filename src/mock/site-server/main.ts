/**
 * CLI entry (`npx consystence-mock-site …`). Prints exactly one JSON line on stdout when ready:
 * `{"event":"listening","mqttUrl":…,"httpUrl":…,"edgeUrl":…,"fingerprint":"sha256:…","controlToken":…}` (the token only when it was generated);
 * logs go to stderr as JSON lines. SIGTERM/SIGINT publish the server's retained offline status and stop cleanly
 * (exit 0) within STOP_DEADLINE_MS whatever state the server is in, else exit 1; a second signal exits at once
 * (exit 1). Exit 2 means bad flags, 1 a start-up failure, 10 that another site server was registered for this site
 * (at start or while running; the log line `site_server_replaced` and `/health` say the same).
 */
import { createLogger } from '../../common/log/log.js';
import { parseCliArgs, USAGE } from './cli-args.js';
import { REPLACED_EXIT_CODE } from './upstream/cloud-status.js';
import { SiteServerError } from './errors.js';
import { startMockSiteServer } from './index.js';

const logger = createLogger({ base: { component: 'mock-site-server' } });
/** Every step of close() is bounded well within this; it is the last guard against a step that is not. */
const STOP_DEADLINE_MS = 15_000;

async function main(): Promise<number> {
  const args = parseCliArgs(process.argv.slice(2), process.env);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.warnings.length) logger.warn('secret_on_command_line', { warnings: args.warnings });
  const server = await startMockSiteServer(args.options, { logger });
  const ready = {
    event: 'listening',
    mqttUrl: server.mqttUrl,
    httpUrl: server.httpUrl,
    edgeUrl: server.edgeUrl,
    fingerprint: server.fingerprint,
    siteId: server.siteId,
    orgId: server.orgId,
    ...(server.controlTokenGenerated ? { controlToken: server.controlToken } : {}),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  let exitCode = 0;
  await new Promise<void>((resolve) => {
    let stopping = false;
    // Replaced by another site server: say so where an operator looks (stderr, exit status), then stop.
    // It lingers first, answering /health with 503 `replaced`, so a monitoring probe sees why it is going away
    // rather than a bare connection refused; a signal meanwhile stops it at once, still with exit 10.
    let linger: NodeJS.Timeout | undefined;
    const close = (): void => {
      server.close().then(resolve, (error: unknown) => {
        logger.error('stop_failed', { error });
        resolve();
      });
    };
    server.onReplaced((message) => {
      if (stopping || linger) return;
      exitCode = REPLACED_EXIT_CODE;
      process.stderr.write(
        `consystence-mock-site: REPLACED: ${message}; stopping in ${args.replacedLingerSeconds} s (exit ${REPLACED_EXIT_CODE})\n`,
      );
      linger = setTimeout(() => {
        stopping = true;
        close();
      }, args.replacedLingerSeconds * 1000);
    });
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(1);
      stopping = true;
      clearTimeout(linger);
      logger.info('stopping', { signal });
      setTimeout(() => {
        logger.error('stop_timed_out', { afterMs: STOP_DEADLINE_MS });
        process.exit(1);
      }, STOP_DEADLINE_MS).unref();
      close();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  logger.info('stopped', { exitCode });
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof SiteServerError) {
      process.stderr.write(`consystence-mock-site: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    logger.error('fatal', { error });
    process.exit(1);
  },
);
