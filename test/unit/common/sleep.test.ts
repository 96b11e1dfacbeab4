import { describe, expect, it } from 'vitest';
import { sleep } from '../../../src/common/time/sleep.js';

describe('sleep', () => {
  it('resolves after the time without a signal', async () => {
    await expect(sleep(5)).resolves.toBeUndefined();
  });

  it('ends early and quietly on abort by default (a 60 s backoff does not hold up shutdown)', async () => {
    const controller = new AbortController();
    const slept = sleep(60_000, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(slept).resolves.toBeUndefined();
    await expect(sleep(60_000, { signal: controller.signal })).resolves.toBeUndefined();
  });

  it("rejects with the signal's reason when asked to (a cancelled rig step stops where it stands)", async () => {
    const controller = new AbortController();
    const slept = sleep(60_000, { signal: controller.signal, onAbort: 'reject' });
    controller.abort(new Error('stop'));
    await expect(slept).rejects.toThrow('stop');
    await expect(sleep(60_000, { signal: controller.signal, onAbort: 'reject' })).rejects.toThrow('stop');
  });
});
