import { describe, expect, it } from 'vitest';
import {
  edgeTopicPrefix,
  edgeTopics,
  parseEdgeTopic,
  parseServerStatusTopic,
  serverStatusTopic,
} from '../../../src/protocol/index.js';

const site = 'f6a7b8c9-0d1e-2f3a-4b5c-6d7e8f9a0b1c';

describe('topics', () => {
  it('builds every edge topic from the prefix and parses them back', () => {
    const prefix = edgeTopicPrefix(site, 'orin-north-01');
    expect(prefix).toBe(`consystence/v1/sites/${site}/edges/orin-north-01`);
    const topics = edgeTopics(prefix);
    expect(topics.cmdResult).toBe(`${prefix}/cmd/result`);
    expect(topics.configReported).toBe(`${prefix}/config/reported`);
    for (const topic of Object.values(topics)) {
      expect(parseEdgeTopic(topic)).toMatchObject({ siteId: site, edgeId: 'orin-north-01' });
    }
    expect(parseEdgeTopic(topics.cmdResult)?.channel).toBe('cmd/result');
  });

  it('refuses ids that could smuggle wildcards or levels into a topic', () => {
    for (const bad of ['+', '#', 'a/b', 'UPPER', '-lead', '', 'x'.repeat(64)]) {
      expect(() => edgeTopicPrefix(site, bad)).toThrow();
    }
    expect(() => edgeTopicPrefix('not-a-uuid', 'ok')).toThrow();
  });

  it('returns null for anything that is not exactly an edge topic', () => {
    for (const topic of [
      `consystence/v1/sites/${site}/edges/+/status`,
      `consystence/v1/sites/${site}/edges/e1/#`,
      `consystence/v1/sites/${site}/edges/e1/status/extra`,
      `consystence/v1/sites/${site}/edges/e1/unknown`,
      `$SYS/broker/uptime`,
      `consystence/v2/sites/${site}/edges/e1/status`,
    ])
      expect(parseEdgeTopic(topic)).toBeNull();
  });

  it('builds and parses the server status topic', () => {
    expect(parseServerStatusTopic(serverStatusTopic(site))).toEqual({ siteId: site });
    expect(parseServerStatusTopic(`consystence/v1/sites/${site}/server/other`)).toBeNull();
  });
});
