import { describe, expect, it } from 'vitest';
import { edgeMayPublish, edgeMaySubscribe } from '../../../src/mock/site-server/broker/acl.js';

const SITE = '0b0e6a52-3d0f-4c11-9a7c-6a2c0a9f0e11';
const OTHER_SITE = '0b0e6a52-3d0f-4c11-9a7c-6a2c0a9f0e12';
const P = `consystence/v1/sites/${SITE}/edges/orin-a`;

describe('edge ACL', () => {
  it('allows an edge to publish only its own six channels', () => {
    for (const ch of ['status', 'heartbeat', 'telemetry', 'events', 'config/reported', 'cmd/result'])
      expect(edgeMayPublish(SITE, 'orin-a', `${P}/${ch}`)).toBe(true);
    for (const topic of [
      `${P}/config`,
      `${P}/cmd`,
      `${P}/other`,
      `${P}`,
      `${P}/status/x`,
      `consystence/v1/sites/${SITE}/edges/orin-b/telemetry`,
      `consystence/v1/sites/${OTHER_SITE}/edges/orin-a/telemetry`,
      `consystence/v1/sites/${SITE}/server/status`,
      '$SYS/broker/load',
      '',
      `${P}/+`,
    ]) {
      expect([topic, edgeMayPublish(SITE, 'orin-a', topic)]).toEqual([topic, false]);
    }
  });

  it('allows an edge to subscribe only to its config, its commands and the server status', () => {
    for (const f of [`${P}/config`, `${P}/cmd`, `consystence/v1/sites/${SITE}/server/status`])
      expect(edgeMaySubscribe(SITE, 'orin-a', f)).toBe(true);
    for (const f of [
      '#',
      '+/#',
      '$SYS/#',
      '$SYS/broker/clients/connected',
      `${P}/#`,
      `${P}/+`,
      `consystence/v1/sites/${SITE}/edges/+/cmd`,
      `consystence/v1/sites/+/edges/orin-a/cmd`,
      `consystence/v1/sites/${SITE}/edges/orin-b/cmd`,
      `${P}/telemetry`,
      `consystence/v1/sites/${OTHER_SITE}/server/status`,
      `consystence/v1/sites/${SITE}/server/+`,
      `consystence/#`,
    ]) {
      expect([f, edgeMaySubscribe(SITE, 'orin-a', f)]).toEqual([f, false]);
    }
  });

  it('lets an edge read only its own update offers and publish only its own update state, never an offer', () => {
    const other = `consystence/v1/sites/${SITE}/edges/orin-b`;
    expect(edgeMaySubscribe(SITE, 'orin-a', `${P}/update`)).toBe(true);
    expect(edgeMayPublish(SITE, 'orin-a', `${P}/update/state`)).toBe(true);
    for (const topic of [`${P}/update`, `${other}/update`, `${other}/update/state`, `${P}/update/+`, `${P}/update/x`])
      expect([topic, edgeMayPublish(SITE, 'orin-a', topic)]).toEqual([topic, false]);
    for (const filter of [
      `${other}/update`,
      `${P}/update/#`,
      `${P}/update/state`,
      `consystence/v1/sites/${SITE}/edges/+/update`,
    ])
      expect([filter, edgeMaySubscribe(SITE, 'orin-a', filter)]).toEqual([filter, false]);
  });
});
