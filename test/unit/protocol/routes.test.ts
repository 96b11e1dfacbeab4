import { describe, expect, it } from 'vitest';
import { CLOUD_ROUTES, cloudPath, cloudUrl, edgeTokenUrl } from '../../../src/protocol/index.js';

describe('cloud routes', () => {
  it('fills every parameter of a pattern, URI-encoded', () => {
    expect(cloudPath(CLOUD_ROUTES.registerEdge, { orgId: 'o 1', siteId: 's/2' })).toBe(
      '/api/organisations/o%201/sites/s%2F2/register-edge',
    );
    expect(cloudUrl('http://cloud.test', CLOUD_ROUTES.jwks)).toBe('http://cloud.test/.well-known/jwks.json');
  });

  it("builds the token refresh URL that is also the assertion's exact audience", () => {
    expect(edgeTokenUrl('https://cloud.test', { orgId: 'o', siteId: 's', edgeId: 'orin-north-01' })).toBe(
      'https://cloud.test/api/organisations/o/sites/s/edges/orin-north-01/token',
    );
  });
});
