/** The logger's guards: secrets out (by field and by shape), error codes in, text printable and capped, repeats summarised. */
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, redact } from '../../../src/common/log/log.js';

function capture(repeatWindowMs?: number) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    ...(repeatWindowMs !== undefined ? { repeatWindowMs } : {}),
  });
  return { logger, lines };
}

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJlZGdlIn0.c2lnbmF0dXJl';

describe('log redaction', () => {
  it('hides secrets by field name, whatever their value', () => {
    expect(
      redact({ edgeToken: 'x', password: 'p', pairingCode: '7KQ4MX29', idempotencyKey: 'k', jwk: { d: 'private' } }),
    ).toEqual({
      edgeToken: REDACTED,
      password: REDACTED,
      pairingCode: REDACTED,
      idempotencyKey: REDACTED,
      jwk: { d: REDACTED },
    });
  });

  it('keeps error codes in a field named code, and hides a value shaped like a pairing code', () => {
    expect(redact({ code: 'PAIRING_CODE_USED' })).toEqual({ code: 'PAIRING_CODE_USED' });
    expect(redact({ error: { name: 'Error', code: 'ECONNREFUSED' } })).toEqual({
      error: { name: 'Error', code: 'ECONNREFUSED' },
    });
    expect(redact({ code: 135 })).toEqual({ code: 135 });
    expect(redact({ code: '7KQ4-MX29' })).toEqual({ code: REDACTED });
    expect(redact({ code: '7kq4mx29' })).toEqual({ code: REDACTED });
  });

  it('hides secrets by shape in any field: a JWT, the code of a pairing URI', () => {
    expect(redact({ note: `Bearer ${JWT}` })).toEqual({ note: `Bearer ${REDACTED}` });
    expect(redact({ uri: 'consystence-edge://pair?cloud=x&org=o&site=s&code=7KQ4-MX29&edge=e' })).toEqual({
      uri: `consystence-edge://pair?cloud=x&org=o&site=s&code=${REDACTED}&edge=e`,
    });
  });

  it('caps and cleans keys and values that came from the network', () => {
    const key = 'k'.repeat(60_000);
    const { logger, lines } = capture();
    logger.warn('config_rejected', { issues: [{ path: [key], message: `Unrecognized key: "${key}"` }], [key]: 1 });
    const line = JSON.stringify(lines[0]);
    expect(line.length).toBeLessThan(3_000);
    expect(line).toContain('more characters');
    const fake = redact({ message: 'bad\u001b[2K\r  ok: paired\u202e' }) as { message: string };
    expect(fake.message).not.toMatch(/[\u001b\r\u202e]/);
  });
});

describe('repeated warnings', () => {
  it('logs the first of a burst, then one summary with the count', async () => {
    const { logger, lines } = capture(200);
    for (let i = 0; i < 1546; i++) logger.warn('command_bad', { reason: 'not JSON' });
    logger.info('other', {});
    expect(lines.map((l) => l.event)).toEqual(['command_bad', 'other']);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(lines.at(-1)).toMatchObject({ event: 'log_suppressed', suppressedEvent: 'command_bad', count: 1545 });
    logger.warn('command_bad', {});
    expect(lines.at(-1)).toMatchObject({ event: 'command_bad' });
  });

  it('counts each cause apart: another event, another reason, or another edge of the fleet, is logged', () => {
    const { logger, lines } = capture(60_000);
    logger.child({ edgeId: 'a' }).warn('command_bad');
    logger.child({ edgeId: 'b' }).warn('command_bad');
    logger.child({ edgeId: 'a' }).warn('config_rejected');
    logger.child({ edgeId: 'a' }).warn('command_bad');
    logger.child({ edgeId: 'a' }).warn('config_rejected', { reason: 'unknown key "x"' });
    logger.child({ edgeId: 'a' }).warn('config_rejected', { reason: 'unknown key "y"' });
    logger.child({ edgeId: 'a' }).warn('config_rejected', { reason: 'unknown key "y"' });
    expect(lines.map((l) => `${l.edgeId} ${l.event}${l.reason ? ` ${l.reason}` : ''}`)).toEqual([
      'a command_bad',
      'b command_bad',
      'a config_rejected',
      'a config_rejected unknown key "x"',
      'a config_rejected unknown key "y"',
    ]);
  });
});
