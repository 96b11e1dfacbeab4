/**
 * The fault plan a rig arms through `/_mock/faults`: what to do to the next calls of a route. Kept in memory
 * only (a restart disarms everything), consumed call by call, and shown as armed by `GET /_mock/faults`.
 *
 * A route is `METHOD /path` where `METHOD` may be `*` and each `*` in the path matches one segment, e.g.
 * `POST /api/organisations/* /sites/* /register-edge` (without the spaces).
 */
import { z } from 'zod';

const RoutePattern = z
  .string()
  .max(512)
  .regex(
    /^(GET|POST|PUT|PATCH|DELETE|\*) \/\S*$/,
    'METHOD /path, e.g. "POST /api/organisations/*/sites/*/register-edge" (METHOD may be *)',
  );
export const ClockOffsetSeconds = z
  .number()
  .int()
  .min(-10 * 365 * 86_400)
  .max(10 * 365 * 86_400);
const Times = z.number().int().min(1).max(1_000_000).default(1);

export const FaultSpec = z.discriminatedUnion('type', [
  /** Adds `ms` before every call of `route` (or of every route), until reset. */
  z.strictObject({
    type: z.literal('latency'),
    ms: z.number().int().min(0).max(120_000),
    route: RoutePattern.optional(),
  }),
  /** Answers the next `times` calls with `status` in the contract's error body, without doing the work. */
  z.strictObject({
    type: z.literal('status'),
    route: RoutePattern,
    status: z.number().int().min(400).max(599),
    times: Times,
    retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
    code: z
      .string()
      .regex(/^[A-Z_]{1,64}$/)
      .optional(),
    message: z.string().max(500).optional(),
  }),
  /** Does the work and commits it, then destroys the socket instead of answering (the lost response). */
  z.strictObject({ type: z.literal('drop-after-commit'), route: RoutePattern, times: Times }),
  /** Does the work, then answers with a body that is not JSON (same status, JSON content type). */
  z.strictObject({ type: z.literal('malformed-body'), route: RoutePattern, times: Times }),
  /** Does the work, then answers with only the first half of the JSON body. */
  z.strictObject({ type: z.literal('truncated-body'), route: RoutePattern, times: Times }),
  /** Shifts the cloud's clock (Date header, serverTime, token iat/exp) by `offsetSeconds`. */
  z.strictObject({ type: z.literal('clock'), offsetSeconds: ClockOffsetSeconds }),
]);
export type FaultSpec = z.infer<typeof FaultSpec>;
export type FaultInput = z.input<typeof FaultSpec>;

type CountedFault = Extract<FaultSpec, { times: number }>;
export type ResponseFault = Extract<CountedFault, { type: 'drop-after-commit' | 'malformed-body' | 'truncated-body' }>;
export type StatusFault = Extract<CountedFault, { type: 'status' }>;
type LatencyFault = Extract<FaultSpec, { type: 'latency' }>;

export interface ArmedFaults {
  latency: LatencyFault[];
  /** Counted faults with the calls they still apply to. */
  pending: Array<CountedFault & { remaining: number }>;
  clockOffsetSeconds: number;
}

/** Does `METHOD /path` match the pattern? Exported for its unit test. */
export function routeMatches(pattern: string, method: string, path: string): boolean {
  const space = pattern.indexOf(' ');
  const patternMethod = pattern.slice(0, space);
  if (patternMethod !== '*' && patternMethod !== method.toUpperCase()) return false;
  const want = pattern.slice(space + 1).split('/');
  const got = path.split('/');
  return (
    want.length === got.length && want.every((segment, i) => (segment === '*' ? got[i] !== '' : segment === got[i]))
  );
}

export class FaultPlan {
  private latency: LatencyFault[] = [];
  private pending: Array<CountedFault & { remaining: number }> = [];

  constructor(
    private readonly onClock: (offsetSeconds: number) => void,
    private readonly clockOffset: () => number,
  ) {}

  arm(fault: FaultSpec): void {
    if (fault.type === 'clock') this.onClock(fault.offsetSeconds);
    else if (fault.type === 'latency') this.latency.push(fault);
    else this.pending.push({ ...fault, remaining: fault.times });
  }

  reset(): void {
    this.latency = [];
    this.pending = [];
    this.onClock(0);
  }

  armed(): ArmedFaults {
    return {
      latency: [...this.latency],
      pending: this.pending.map((f) => ({ ...f })),
      clockOffsetSeconds: this.clockOffset(),
    };
  }

  latencyFor(method: string, path: string): number {
    return this.latency
      .filter((f) => !f.route || routeMatches(f.route, method, path))
      .reduce((sum, f) => sum + f.ms, 0);
  }

  /** Consumes one call of the first armed fault of these types matching the route. */
  private take<T extends CountedFault['type']>(
    types: readonly T[],
    method: string,
    path: string,
  ): Extract<CountedFault, { type: T }> | undefined {
    const index = this.pending.findIndex(
      (f) => (types as readonly string[]).includes(f.type) && routeMatches(f.route, method, path),
    );
    if (index < 0) return undefined;
    const fault = this.pending[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.pending.splice(index, 1);
    return fault as unknown as Extract<CountedFault, { type: T }>;
  }

  takeStatus(method: string, path: string): StatusFault | undefined {
    return this.take(['status'], method, path);
  }

  takeResponseFault(method: string, path: string): ResponseFault | undefined {
    return this.take(['drop-after-commit', 'malformed-body', 'truncated-body'], method, path);
  }
}
