/**
 * JSON-lines logging on stderr (stdout is for humans and for the one "ready" line of the mocks). Secrets are
 * redacted by field name before a line is written, so a token can never reach a log even by accident: any key
 * naming a token, password, secret, key material, assertion or pairing code is replaced.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;
export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const SECRET_KEY =
  /(token|password|passwd|secret|privatekey|private_key|authorization|assertion|pairingcode|^code$|^d$|idempotencykey)/i;
export const REDACTED = '[redacted]';

/** Deep copy with secret-named fields replaced; errors become `{name, message, code}` (never their stack's locals). */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redact(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value))
      out[key] = SECRET_KEY.test(key) ? REDACTED : redact(inner, depth + 1);
    return out;
  }
  return value;
}

export function createLogger(
  options: { level?: LogLevel; base?: LogFields; write?: (line: string) => void } = {},
): Logger {
  const threshold = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.base ?? {};
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (ORDER[level] < threshold) return;
    const record = redact({ ts: new Date().toISOString(), level, event, ...base, ...fields });
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (library use, benchmarks). */
export const silentLogger: Logger = createLogger({ write: () => {} });
