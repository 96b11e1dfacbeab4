import { describe, expect, it } from 'vitest';
import { decideConfigPush } from '../../../src/edge/config/decide.js';

const current = { version: 3, config: { heartbeatSeconds: 30, buffer: { retentionDays: 7, maxSizeMb: 1024 } } };

describe('config push decisions', () => {
  it('applies a newer version, merging the patch over the running config', () => {
    const d = decideConfigPush(
      current,
      JSON.stringify({ version: 4, config: { heartbeatSeconds: 10, buffer: { maxSizeMb: 64 } } }),
    );
    expect(d).toEqual({
      kind: 'apply',
      next: { version: 4, config: { heartbeatSeconds: 10, buffer: { retentionDays: 7, maxSizeMb: 64 } } },
      patch: { heartbeatSeconds: 10, buffer: { maxSizeMb: 64 } },
    });
  });

  it('ignores the same or an older version', () => {
    expect(decideConfigPush(current, JSON.stringify({ version: 3, config: { heartbeatSeconds: 10 } })).kind).toBe(
      'ignore',
    );
    expect(decideConfigPush(current, JSON.stringify({ version: 1, config: {} })).kind).toBe('ignore');
  });

  it('applies a reset (resetFrom) only when it names the running version, whatever its own version', () => {
    const stuck = { ...current, version: 2 ** 53 - 1 };
    const reset = JSON.stringify({ version: 1, config: { heartbeatSeconds: 10 }, resetFrom: 2 ** 53 - 1 });
    expect(decideConfigPush(stuck, reset)).toMatchObject({ kind: 'apply', next: { version: 1 } });
    expect(decideConfigPush(current, reset).kind).toBe('ignore');
    const newerButStale = JSON.stringify({ version: 9, config: {}, resetFrom: 2 });
    expect(decideConfigPush(current, newerButStale).kind).toBe('ignore');
  });

  it('rejects a version beyond the contract bound, so no push can freeze the edge', () => {
    const frozen = JSON.stringify({ version: 2 ** 53 - 1, config: { heartbeatSeconds: 10 } });
    expect(decideConfigPush(current, frozen)).toMatchObject({
      kind: 'reject',
      reason: expect.stringMatching(/version/),
    });
    expect(decideConfigPush(current, JSON.stringify({ version: 2 ** 31 - 1, config: {} })).kind).toBe('apply');
  });

  it('never echoes unknown keys from the network beyond a short excerpt (a token hid in one)', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvcmluLTEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
    const keys = [token.replaceAll('.', '%2E'), 'code%3DWXYZ-2345', token.slice(30, 70), 'x\u001b[2J', 'fifth'];
    const config = Object.fromEntries(keys.map((k) => [k, 1]));
    const d = decideConfigPush(current, JSON.stringify({ version: 9, config }));
    expect(d.kind).toBe('reject');
    const reason = (d as { reason: string }).reason;
    expect(reason).toContain('5 unknown key(s)');
    expect(reason).not.toMatch(/eyJ|WXYZ|\u001b/);
    // No run of 16 characters of the token is echoed.
    for (let i = 0; i + 16 <= token.length; i++) expect(reason).not.toContain(token.slice(i, i + 16));
    expect(reason).not.toContain('fifth');
  });

  it('rejects invalid pushes with a reason, naming the version when it can be read', () => {
    expect(decideConfigPush(current, 'not json')).toMatchObject({
      kind: 'reject',
      version: 3,
      reason: expect.stringMatching(/JSON/),
    });
    expect(decideConfigPush(current, JSON.stringify({ version: 9, config: { heartbeatSeconds: 1 } }))).toMatchObject({
      kind: 'reject',
      version: 9,
      reason: expect.stringMatching(/heartbeatSeconds/),
    });
    expect(decideConfigPush(current, JSON.stringify({ version: 9, config: { unknownKey: true } }))).toMatchObject({
      kind: 'reject',
      version: 9,
    });
    expect(decideConfigPush(current, JSON.stringify({ version: -1, config: {} }))).toMatchObject({
      kind: 'reject',
      version: 3,
    });
    expect(decideConfigPush(current, 'x'.repeat(300 * 1024))).toMatchObject({
      kind: 'reject',
      reason: expect.stringMatching(/exceeds/),
    });
  });
});

describe('config push of log settings', () => {
  it('merges logs over the running ones, key by key', () => {
    const withLogs = { version: 4, config: { ...current.config, logs: { level: 'info' as const, files: 3 } } };
    const d = decideConfigPush(withLogs, JSON.stringify({ version: 5, config: { logs: { level: 'debug' } } }));
    expect(d).toMatchObject({ kind: 'apply', next: { config: { logs: { level: 'debug', files: 3 } } } });
  });

  it('rejects an unknown level, a file size past 64 MiB and an unknown logs key', () => {
    for (const logs of [{ level: 'trace' }, { fileSizeKb: 65_537 }, { files: 0 }, { colour: true }])
      expect(decideConfigPush(current, JSON.stringify({ version: 9, config: { logs } })).kind).toBe('reject');
  });
});
