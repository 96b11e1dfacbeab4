/**
 * The edge ACL of CONTRACT §4, as pure functions over topic strings. A filter is allowed only when it is exactly
 * one of the edge's own topics: `parseEdgeTopic` accepts no `+`, `#` or `$`, so every wildcard, another edge's
 * prefix and the `$SYS` tree fall out as "not an own topic" without special cases that could drift.
 */
import {
  EDGE_PUBLISH_CHANNELS,
  EDGE_SUBSCRIBE_CHANNELS,
  parseEdgeTopic,
  serverStatusTopic,
} from '../../../protocol/index.js';

export function edgeMayPublish(siteId: string, edgeId: string, topic: string): boolean {
  const parsed = parseEdgeTopic(topic);
  return (
    parsed !== null &&
    parsed.siteId === siteId &&
    parsed.edgeId === edgeId &&
    EDGE_PUBLISH_CHANNELS.includes(parsed.channel)
  );
}

export function edgeMaySubscribe(siteId: string, edgeId: string, filter: string): boolean {
  if (filter === serverStatusTopic(siteId)) return true;
  const parsed = parseEdgeTopic(filter);
  return (
    parsed !== null &&
    parsed.siteId === siteId &&
    parsed.edgeId === edgeId &&
    EDGE_SUBSCRIBE_CHANNELS.includes(parsed.channel)
  );
}
