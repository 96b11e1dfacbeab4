/**
 * MQTT topics (CONTRACT §4). One module builds them and parses them back, so the edge, the site server and the
 * broker ACL agree on every name. Ids are validated before they reach a topic: no `+`, `#` or `/` can be smuggled in.
 */
import { EdgeId, Uuid } from './common.js';

export const TOPIC_ROOT = 'consystence/v1/sites';

export const EdgeChannels = [
  'status',
  'heartbeat',
  'telemetry',
  'events',
  'config',
  'config/reported',
  'cmd',
  'cmd/result',
  'update',
  'update/state',
] as const;
export type EdgeChannel = (typeof EdgeChannels)[number];

/** What an edge may publish to, under its own prefix. */
export const EDGE_PUBLISH_CHANNELS: readonly EdgeChannel[] = [
  'status',
  'heartbeat',
  'telemetry',
  'events',
  'config/reported',
  'cmd/result',
  'update/state',
];
/** What an edge may subscribe to, under its own prefix (plus the server status topic of its site). */
export const EDGE_SUBSCRIBE_CHANNELS: readonly EdgeChannel[] = ['config', 'cmd', 'update'];

export function edgeTopicPrefix(siteId: string, edgeId: string): string {
  Uuid.parse(siteId);
  EdgeId.parse(edgeId);
  return `${TOPIC_ROOT}/${siteId}/edges/${edgeId}`;
}

export type EdgeTopics = { readonly [K in EdgeChannel as CamelChannel<K>]: string };
type CamelChannel<S extends string> = S extends `${infer A}/${infer B}` ? `${A}${Capitalize<B>}` : S;

/** All topics of one edge, from its `topicPrefix` (as delivered by register-edge). */
export function edgeTopics(prefix: string): EdgeTopics {
  return {
    status: `${prefix}/status`,
    heartbeat: `${prefix}/heartbeat`,
    telemetry: `${prefix}/telemetry`,
    events: `${prefix}/events`,
    config: `${prefix}/config`,
    configReported: `${prefix}/config/reported`,
    cmd: `${prefix}/cmd`,
    cmdResult: `${prefix}/cmd/result`,
    update: `${prefix}/update`,
    updateState: `${prefix}/update/state`,
  };
}

export function serverStatusTopic(siteId: string): string {
  Uuid.parse(siteId);
  return `${TOPIC_ROOT}/${siteId}/server/status`;
}

export interface ParsedEdgeTopic {
  siteId: string;
  edgeId: string;
  channel: EdgeChannel;
}

const EDGE_TOPIC =
  /^consystence\/v1\/sites\/([0-9a-f-]{36})\/edges\/([a-z0-9][a-z0-9-]{0,62})\/(status|heartbeat|telemetry|events|config|config\/reported|cmd|cmd\/result|update|update\/state)$/;

/** Parses a concrete topic (no wildcards). Returns null for anything that is not exactly an edge topic. */
export function parseEdgeTopic(topic: string): ParsedEdgeTopic | null {
  const match = EDGE_TOPIC.exec(topic);
  if (!match || !Uuid.safeParse(match[1]).success) return null;
  return { siteId: match[1]!, edgeId: match[2]!, channel: match[3] as EdgeChannel };
}

const SERVER_STATUS = /^consystence\/v1\/sites\/([0-9a-f-]{36})\/server\/status$/;
export function parseServerStatusTopic(topic: string): { siteId: string } | null {
  const match = SERVER_STATUS.exec(topic);
  return match && Uuid.safeParse(match[1]).success ? { siteId: match[1]! } : null;
}
