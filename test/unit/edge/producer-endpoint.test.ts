/** `--producer-port` / `--producer-socket` and their environment variables: validated, flags win, `off` disables. */
import { describe, expect, it } from 'vitest';
import { producerEndpoint } from '../../../src/edge/data/producer-endpoint.js';
import { EdgeError } from '../../../src/edge/errors.js';

describe('producerEndpoint', () => {
  it('defaults to loopback port 8719', () => {
    expect(producerEndpoint({}, {})).toEqual({ kind: 'tcp', port: 8719 });
  });
  it('takes a port, 0 (a free one) or off; the flag wins over the environment', () => {
    expect(producerEndpoint({ port: '9000' }, { CONSYSTENCE_EDGE_PRODUCER_PORT: '9001' })).toEqual({
      kind: 'tcp',
      port: 9000,
    });
    expect(producerEndpoint({}, { CONSYSTENCE_EDGE_PRODUCER_PORT: '0' })).toEqual({ kind: 'tcp', port: 0 });
    expect(producerEndpoint({ port: 'off' }, {})).toEqual({ kind: 'off' });
  });
  it('prefers a Unix socket when one is given', () => {
    expect(producerEndpoint({ port: '9000' }, { CONSYSTENCE_EDGE_PRODUCER_SOCKET: '/run/cst.sock' })).toEqual({
      kind: 'socket',
      path: '/run/cst.sock',
    });
  });
  it.each(['-1', '65536', 'abc', '1.5', ' ', '80x'])('refuses port %j as a usage error', (port) => {
    expect(() => producerEndpoint({ port }, {})).toThrow(EdgeError);
  });
  it('refuses a socket path longer than sun_path', () => {
    expect(() => producerEndpoint({ socket: `/${'a'.repeat(200)}` }, {})).toThrow(/producer-socket/);
  });
});
