import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/storage/index.js';
import { identityMigrations } from '../../../src/edge/migrations/index.js';
import { CommandRegistry } from '../../../src/edge/commands/registry.js';
import { CommandStore } from '../../../src/edge/stores/command-store.js';
import { silentLogger } from '../../../src/common/log/log.js';

async function registry() {
  const { db } = await openDatabase({ path: ':memory:', migrations: identityMigrations });
  let runs = 0;
  const clock = { now: () => Date.parse('2026-03-01T00:00:00Z') };
  const store = new CommandStore(db);
  const reg = new CommandRegistry(store, clock, silentLogger)
    .register('ping', {
      run: async () => {
        runs++;
        return { pong: true };
      },
    })
    .register('boom', {
      run: async () => {
        throw new Error('exploded');
      },
    })
    .register('restart', { mode: 'after-restart', run: async () => {} });
  return { reg, store, runs: () => runs };
}

describe('command registry', () => {
  it('runs a known command and replays a repeated id without running it again', async () => {
    const { reg, runs } = await registry();
    const first = await reg.handle(JSON.stringify({ id: 'a', name: 'ping' }));
    expect(first.publish).toEqual({ id: 'a', ok: true, result: { pong: true } });
    expect((await reg.handle(JSON.stringify({ id: 'a', name: 'ping' }))).publish).toEqual(first.publish);
    expect(runs()).toBe(1);
  });

  it('answers UNKNOWN_COMMAND, BAD_COMMAND (with the id when readable) and EXPIRED', async () => {
    const { reg } = await registry();
    expect((await reg.handle(JSON.stringify({ id: 'u', name: 'format-disk' }))).publish).toMatchObject({
      id: 'u',
      ok: false,
      error: { code: 'UNKNOWN_COMMAND' },
    });
    expect((await reg.handle('{broken')).publish).toMatchObject({ id: '', ok: false, error: { code: 'BAD_COMMAND' } });
    expect((await reg.handle(JSON.stringify({ id: 'b', name: 7 }))).publish).toMatchObject({
      id: 'b',
      ok: false,
      error: { code: 'BAD_COMMAND' },
    });
    expect((await reg.handle(JSON.stringify([1, 2]))).publish).toMatchObject({
      ok: false,
      error: { code: 'BAD_COMMAND' },
    });
    expect(
      (await reg.handle(JSON.stringify({ id: 'e', name: 'ping', expiresAt: '2026-02-28T23:59:59Z' }))).publish,
    ).toMatchObject({ id: 'e', ok: false, error: { code: 'EXPIRED' } });
  });

  it('turns a handler failure into FAILED, stored like any result', async () => {
    const { reg, store } = await registry();
    expect((await reg.handle(JSON.stringify({ id: 'f', name: 'boom' }))).publish).toMatchObject({
      id: 'f',
      ok: false,
      error: { code: 'FAILED', message: 'exploded' },
    });
    expect(store.get('f')?.state).toBe('done');
  });

  it('settles a restart after the next boot, and marks other interrupted commands failed', async () => {
    const { reg, store } = await registry();
    expect((await reg.handle(JSON.stringify({ id: 'r', name: 'restart' }))).publish).toBeNull();
    store.markExecuting('x', 'ping', '2026-03-01T00:00:00Z');
    const settled = reg.settleAfterBoot('boot-2');
    expect(settled).toEqual(
      expect.arrayContaining([
        { id: 'r', ok: true, result: { restarted: true, bootId: 'boot-2' } },
        { id: 'x', ok: false, error: { code: 'FAILED', message: expect.any(String) } },
      ]),
    );
    expect((await reg.handle(JSON.stringify({ id: 'r', name: 'restart' }))).publish).toMatchObject({
      id: 'r',
      ok: true,
    });
  });
});
