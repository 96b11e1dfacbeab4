/**
 * The service's logger: JSON lines to stderr (journald) and to the bounded log file in the state dir, with the
 * level and the file's bounds changeable at run time by a config push (`logs`). The logger is made at `debug`
 * and lines below the current level are dropped here, so a level change needs no new logger objects in every
 * part that already holds one. Once the device's secrets are known (`scrubSecrets`), every line is also scrubbed
 * of them in any 16-character slice and percent-encoded (secrets.ts): the logger redacts by field name and
 * shape, and cannot know the device's own token hiding in a value from the network.
 */
import type { LogsConfig } from '../../protocol/index.js';
import { createLogger, type Logger, type LogLevel } from '../../common/log/log.js';
import { DEFAULT_LOG_FILE_LIMITS, RotatingLogFile } from './log-file.js';
import { secretScrubber } from './secrets.js';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Every line starts `{"ts":"…","level":"…"`: read the level without parsing the line. */
const LEVEL = /^\{"ts":"[^"]*","level":"(debug|info|warn|error)"/;

export interface RuntimeLog {
  logger: Logger;
  /** Applies the `logs` of a running config; unset keys fall back to the start-up level and the defaults. */
  apply(logs: Partial<LogsConfig> | undefined): void;
  /** Where to read the device's secrets (secretVariants) from, read again per line (the token is refreshed). */
  scrubSecrets(read: () => readonly string[]): void;
  close(): void;
}

export function createRuntimeLog(options: {
  stateDir: string;
  /** `--log-level`: the level until a config push names another. */
  level: LogLevel;
  stderr: (line: string) => void;
  base?: Record<string, unknown>;
}): RuntimeLog {
  let threshold = ORDER[options.level];
  let readSecrets: () => readonly string[] = () => [];
  let scrubber = { key: '', scrub: (line: string) => line };
  const scrubbed = (line: string) => {
    let secrets: readonly string[];
    try {
      secrets = readSecrets();
    } catch {
      return scrubber.scrub(line); // the last secrets known: a log line must never fail
    }
    const key = secrets.join('\n');
    if (key !== scrubber.key) scrubber = { key, scrub: secretScrubber(secrets) };
    return scrubber.scrub(line);
  };
  const file = new RotatingLogFile(options.stateDir, DEFAULT_LOG_FILE_LIMITS, (message) =>
    options.stderr(
      `${JSON.stringify({ ts: new Date().toISOString(), level: 'warn', event: 'log_file_disabled', message })}\n`,
    ),
  );
  const logger = createLogger({
    level: 'debug',
    ...(options.base ? { base: options.base } : {}),
    write: (line) => {
      const level = LEVEL.exec(line)?.[1] as LogLevel | undefined;
      if (level && ORDER[level] < threshold) return;
      const clean = scrubbed(line);
      options.stderr(clean);
      file.write(clean);
    },
  });
  return {
    logger,
    apply(logs) {
      threshold = ORDER[logs?.level ?? options.level];
      file.setLimits({
        sizeKb: logs?.fileSizeKb ?? DEFAULT_LOG_FILE_LIMITS.sizeKb,
        files: logs?.files ?? DEFAULT_LOG_FILE_LIMITS.files,
      });
    },
    scrubSecrets(read) {
      readSecrets = read;
    },
    close: () => file.close(),
  };
}
