import { describe, expect, it } from 'vitest';
import { SupportBundles } from '../../../src/mock/site-server/site/support-bundles.js';

describe('support bundle upload slots', () => {
  it('are single use, expire, and keep only the newest bundles', () => {
    let now = 1_000_000;
    const bundles = new SupportBundles(2, () => now);
    const slot = bundles.createSlot('orin-1', 60_000, 1024);
    expect(slot.id).toMatch(/^[0-9a-f]{32}$/);
    expect(bundles.peek(slot.id).ok).toBe(true);
    expect(bundles.claim(slot.id).ok).toBe(true);
    expect(bundles.claim(slot.id)).toMatchObject({ ok: false, status: 410, reason: expect.stringContaining('used') });

    const late = bundles.createSlot('orin-1', 60_000, 1024);
    now += 60_001;
    expect(bundles.claim(late.id)).toMatchObject({
      ok: false,
      status: 410,
      reason: expect.stringContaining('expired'),
    });
    expect(bundles.claim('0'.repeat(32))).toMatchObject({ ok: false, status: 404 });

    const ids = [1, 2, 3].map((i) => bundles.save('orin-1', Buffer.from(String(i))).id);
    expect(bundles.list('orin-1').map((b) => b.id)).toEqual(ids.slice(1));
    expect(bundles.get('orin-2', ids[2]!)).toBeUndefined();
  });
});
