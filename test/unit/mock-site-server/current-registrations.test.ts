import { describe, expect, it } from 'vitest';
import { currentRegistrations } from '../../../src/mock/site-server/upstream/trust-store.js';

describe('currentRegistrations', () => {
  it('keeps the active registration of an edge that was revoked and paired again', () => {
    const edges = currentRegistrations([
      {
        edgeId: 'orin-01',
        id: 'old',
        status: 'revoked',
        registeredAt: '2026-11-01T00:00:00Z',
        revokedAt: '2026-11-02T00:00:00Z',
      },
      { edgeId: 'orin-01', id: 'new', status: 'active', registeredAt: '2026-11-03T00:00:00Z' },
      { edgeId: 'orin-02', id: 'x', status: 'active', registeredAt: '2026-11-01T00:00:00Z' },
    ]);
    expect(edges.map((e) => [e.edgeId, e.id])).toEqual([
      ['orin-01', 'new'],
      ['orin-02', 'x'],
    ]);
  });

  it('keeps the most recent of several revoked registrations, whatever the order', () => {
    const older = { edgeId: 'e', id: 'a', status: 'revoked' as const, registeredAt: '2026-01-01T00:00:00Z' };
    const newer = { edgeId: 'e', id: 'b', status: 'revoked' as const, registeredAt: '2026-02-01T00:00:00Z' };
    expect(currentRegistrations([newer, older])[0]?.id).toBe('b');
    expect(currentRegistrations([older, newer])[0]?.id).toBe('b');
  });
});
