/**
 * `consystence-mock-cloud`: starts the mock cloud, prints exactly one JSON line on stdout when it listens
 * (`{"event":"listening","url":…,"controlToken":…}`, the token only when it was generated), logs
 * JSON lines on stderr, and stops cleanly (server, then database) on SIGTERM or SIGINT. Bad flags exit 2.
 */
import { createLogger } from '../../common/log/log.js';
import { parseCliArgs, UsageError, USAGE } from './cli-args.js';
import { startMockCloud } from './index.js';

const logger = createLogger({ base: { component: 'mock-cloud' } });

async function main(): Promise<void> {
  let options;
  try {
    options = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`consystence-mock-cloud: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }

  // Handlers go in before anything starts, so a signal that arrives during start-up still stops cleanly.
  const starting = startMockCloud({ ...options, logger });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    starting
      .then((cloud) => cloud.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error('stop_failed', { error });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const cloud = await starting;
  if (stopping) return;
  // A token the operator gave is theirs already; only a generated one is printed (stdout, never the log).
  const ready = {
    event: 'listening',
    url: cloud.url,
    ...(options.controlToken ? {} : { controlToken: cloud.controlToken }),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  logger.info('listening', { url: cloud.url, db: options.dbPath ?? ':memory:' });
}

main().catch((error: unknown) => {
  logger.error('start_failed', { error });
  process.exit(1);
});
