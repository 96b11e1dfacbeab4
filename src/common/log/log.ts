/**
 * JSON-lines logging on stderr (stdout is for humans and for the one "ready" line of the mocks). Before a line is
 * written every value passes three guards:
 *
 * - secrets are redacted, by field name (tokens, passwords, keys, assertions, pairing codes, Idempotency-Keys)
 *   and by value shape (a JWT anywhere, the `code=` of a pairing URI). A field named `code` is redacted only when
 *   its value has the shape of a pairing code: an error code (`PAIRING_CODE_USED`, `ECONNREFUSED`, 135) is not a
 *   secret, and hiding it hid the one thing a technician needed;
 * - text is made printable and capped (common/text/safe-text.ts): keys and values may come from the network;
 * - a warning or error repeated for the same cause (event, logger context, reason) is logged once per window,
 *   then summarised as `log_suppressed {suppressedEvent, count}` (1,546 malformed commands once gave 1,546 lines).
 */
import { printable } from '../text/safe-text.js';

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

/** Field names whose value is always a secret, whatever it looks like. */
const SECRET_KEY =
  /(token|password|passwd|secret|privatekey|private_key|authorization|assertion|pairingcode|^d$|idempotencykey)/i;
/** A pairing code as a person may type it (8 letters and digits, maybe one dash). */
const PAIRING_CODE_SHAPE = /^[0-9a-z]{4}[-\s]?[0-9a-z]{4}$/i;
/** A compact JWS/JWT (header and payload are base64url JSON objects, so both start with `eyJ`). */
const JWT_SHAPE = /eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*/g;
/** The code of a pairing URI (`…&code=7KQ4-MX29`), wherever such a URI is quoted. */
const URI_CODE = /([?&]code=)[^&\s"']+/gi;

export const REDACTED = '[redacted]';
const MAX_KEY_CHARS = 100;
const MAX_VALUE_CHARS = 1000;
const MAX_ARRAY_ITEMS = 50;

function isSecretField(key: string, value: unknown): boolean {
  if (SECRET_KEY.test(key)) return true;
  return /^code$/i.test(key) && typeof value === 'string' && PAIRING_CODE_SHAPE.test(value.trim());
}

function safeString(text: string): string {
  return printable(text.replace(JWT_SHAPE, REDACTED).replace(URI_CODE, `$1${REDACTED}`), MAX_VALUE_CHARS);
}

/**
 * Deep copy with secrets replaced and text made printable and capped; errors become `{name, message, code}`
 * (never their stack's locals).
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (typeof value === 'string') return safeString(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return redact({ name: value.name, message: value.message, ...(code !== undefined ? { code } : {}) }, depth);
  }
  if (Array.isArray(value)) return value.slice(0, MAX_ARRAY_ITEMS).map((item) => redact(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value))
      out[printable(key, MAX_KEY_CHARS)] = isSecretField(key, inner) ? REDACTED : redact(inner, depth + 1);
    return out;
  }
  return value;
}

export interface LoggerOptions {
  level?: LogLevel;
  base?: LogFields;
  write?: (line: string) => void;
  /** How long a repeated warning or error stays summarised (default 10 s). */
  repeatWindowMs?: number;
}

/** Per-event bookkeeping of repeated warnings, shared by a logger and its children. */
interface RepeatState {
  windowEndsMs: number;
  suppressed: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return makeLogger(options, options.base ?? {}, new Map());
}

function makeLogger(options: LoggerOptions, base: LogFields, repeats: Map<string, RepeatState>): Logger {
  const threshold = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const windowMs = options.repeatWindowMs ?? 10_000;
  const writeRecord = (level: LogLevel, event: string, fields?: LogFields) => {
    const record = redact({ ts: new Date().toISOString(), level, event, ...base, ...fields });
    write(`${JSON.stringify(record)}\n`);
  };
  // The cause is the event in this logger's context (one edge of many in the fleet simulator is its own cause)
  // with its `reason` when it gives one: 1,546 commands that are "not valid JSON" are one cause, a config refused
  // for one key and a config refused for another are two.
  const causeOf = (event: string, fields?: LogFields) =>
    `${event} ${JSON.stringify(base)} ${typeof fields?.reason === 'string' ? fields.reason.slice(0, 200) : ''}`;
  /** True when this warning should be written now; otherwise it is counted for the summary. */
  const firstInWindow = (level: LogLevel, event: string, fields?: LogFields): boolean => {
    const now = Date.now();
    const cause = causeOf(event, fields);
    const seen = repeats.get(cause);
    if (!seen || now >= seen.windowEndsMs) {
      repeats.set(cause, { windowEndsMs: now + windowMs, suppressed: 0, timer: null });
      return true;
    }
    seen.suppressed += 1;
    // The summary comes when the window closes (the timer never keeps the process alive), then a new window
    // opens, so a cause that keeps firing gives one line per window.
    seen.timer ??= setTimeout(() => {
      if (repeats.get(cause) === seen) repeats.delete(cause);
      writeRecord(level, 'log_suppressed', {
        suppressedEvent: event,
        count: seen.suppressed,
        windowSeconds: windowMs / 1000,
      });
    }, seen.windowEndsMs - now);
    seen.timer.unref?.();
    return false;
  };
  const emit = (level: LogLevel, event: string, fields?: LogFields) => {
    if (ORDER[level] < threshold) return;
    if (ORDER[level] >= ORDER.warn && !firstInWindow(level, event, fields)) return;
    writeRecord(level, event, fields);
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => makeLogger(options, { ...base, ...fields }, repeats),
  };
}

/** A logger that drops everything (library use, benchmarks). */
export const silentLogger: Logger = createLogger({ write: () => {} });
