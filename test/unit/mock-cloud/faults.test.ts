import { describe, expect, it } from 'vitest';
import { FaultPlan, FaultSpec, routeMatches } from '../../../src/mock/cloud/faults.js';

const REGISTER_EDGE = 'POST /api/organisations/*/sites/*/register-edge';

describe('routeMatches', () => {
  it.each([
    [REGISTER_EDGE, 'POST', '/api/organisations/a/sites/b/register-edge', true],
    [REGISTER_EDGE, 'post', '/api/organisations/a/sites/b/register-edge', true],
    [REGISTER_EDGE, 'GET', '/api/organisations/a/sites/b/register-edge', false],
    [REGISTER_EDGE, 'POST', '/api/organisations/a/sites/b/register-server', false],
    [REGISTER_EDGE, 'POST', '/api/organisations/a/sites/b/c/register-edge', false], // * is one segment
    [REGISTER_EDGE, 'POST', '/api/organisations//sites/b/register-edge', false], // and never empty
    ['* /api/auth/login', 'PUT', '/api/auth/login', true],
  ])('%s vs %s %s → %s', (pattern, method, path, expected) => {
    expect(routeMatches(pattern, method, path)).toBe(expected);
  });
});

describe('FaultPlan', () => {
  const plan = () => {
    let offset = 0;
    return new FaultPlan(
      (s) => (offset = s),
      () => offset,
    );
  };

  it('consumes a counted fault call by call, then disarms it', () => {
    const p = plan();
    p.arm(FaultSpec.parse({ type: 'status', route: REGISTER_EDGE, status: 503, times: 2 }));
    const path = '/api/organisations/a/sites/b/register-edge';
    expect(p.takeStatus('POST', path)?.status).toBe(503);
    expect(p.armed().pending[0]?.remaining).toBe(1);
    expect(p.takeStatus('POST', path)?.status).toBe(503);
    expect(p.takeStatus('POST', path)).toBeUndefined();
    expect(p.armed().pending).toEqual([]);
  });

  it('keeps status faults and response faults apart', () => {
    const p = plan();
    p.arm(FaultSpec.parse({ type: 'drop-after-commit', route: REGISTER_EDGE }));
    expect(p.takeStatus('POST', '/api/organisations/a/sites/b/register-edge')).toBeUndefined();
    expect(p.takeResponseFault('POST', '/api/organisations/a/sites/b/register-edge')?.type).toBe('drop-after-commit');
  });

  it('adds up latency for a route and for all routes; reset clears everything and the clock', () => {
    const p = plan();
    p.arm(FaultSpec.parse({ type: 'latency', ms: 100 }));
    p.arm(FaultSpec.parse({ type: 'latency', ms: 50, route: 'GET /x' }));
    p.arm(FaultSpec.parse({ type: 'clock', offsetSeconds: -30 }));
    expect(p.latencyFor('GET', '/x')).toBe(150);
    expect(p.latencyFor('GET', '/y')).toBe(100);
    expect(p.armed().clockOffsetSeconds).toBe(-30);
    p.reset();
    expect(p.armed()).toEqual({ latency: [], pending: [], clockOffsetSeconds: 0 });
  });

  it.each([
    { type: 'status', route: 'register-edge', status: 503 },
    { type: 'status', route: REGISTER_EDGE, status: 200 },
    { type: 'latency', ms: -1 },
    { type: 'drop-after-commit', route: REGISTER_EDGE, times: 0 },
    { type: 'explode' },
    { type: 'clock', offsetSeconds: 1, extra: true },
  ])('refuses %j', (spec) => {
    expect(FaultSpec.safeParse(spec).success).toBe(false);
  });
});
