/**
 * The site server's own logic, as one privileged MQTT client. The same code runs against the embedded broker
 * (through its internal listener) and against an external broker (mosquitto, EMQX), so every behaviour tested
 * on one is the behaviour on the other. It announces the server's retained status (online on every connect,
 * offline through its LWT or on close), dispatches each edge channel to its handler, and sends config pushes
 * and commands.
 *
 * How edge messages arrive depends on the broker. An external broker delivers them to our subscription. The
 * embedded broker hands each one to `receiveInBroker` before it sends the edge its PUBACK (aedes acknowledges a
 * QoS 1 PUBLISH before it delivers it to subscribers), so an acknowledged message is always one this logic has
 * recorded, even while its own MQTT client is reconnecting.
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../../../common/log/log.js';
import {
  Command,
  ConfigPush,
  EDGE_PUBLISH_CHANNELS,
  TOPIC_ROOT,
  edgeTopicPrefix,
  edgeTopics,
  parseEdgeTopic,
  serverStatusTopic,
  type CommandResult,
  type ConfigReported,
  type RuntimeConfigPatch,
  type ServerStatus,
  type UpdateMessage,
  type UpdateStateReport,
} from '../../../protocol/index.js';
import type { TrustStore } from '../upstream/trust-store.js';
import { EdgeBook } from './edge-book.js';
import { HANDLERS, type HandlerContext } from './handlers/index.js';
import { storeRefused } from './handlers/context.js';
import { PendingReplies } from './pending.js';

export interface SiteLogicOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** For an mqtts:// external broker with a private CA (--tls-ca): trusted instead of the system store. */
  ca?: string;
  siteId: string;
  maxPayloadBytes: number;
  messageBufferSize: number;
  store: TrustStore;
  logger: Logger;
  /** False when the embedded broker hands edge messages over in-process (`receiveInBroker`). */
  subscribeToEdges: boolean;
  /**
   * Gets every parsed `P/update/state` (the update delivery); given at start, so the retained reports an external
   * broker delivers right after the subscription are not missed. Must not throw.
   */
  onUpdateState?: (edgeId: string, report: UpdateStateReport) => void;
}

const CONNECT_TIMEOUT_MS = 10_000;
/** How long a publish may wait for its PUBACK: a control-API call answers within this, connected or not. */
const PUBLISH_TIMEOUT_MS = 10_000;
/** How long `close` waits for the offline status and a clean DISCONNECT before it drops the connection. */
const CLOSE_GRACE_MS = 2_000;

/** True when `work` succeeds within CLOSE_GRACE_MS; false when it fails or takes longer (it is not cancelled). */
function settlesWithin(work: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(resolve, CLOSE_GRACE_MS, false);
  });
  return Promise.race([
    work.then(
      () => true,
      () => false,
    ),
    late,
  ]).finally(() => clearTimeout(timer));
}

const serverStatus = (state: ServerStatus['state']): ServerStatus => ({ state, ts: new Date().toISOString() });

export class SiteLogic {
  readonly book: EdgeBook;
  readonly pending = new PendingReplies();
  private readonly ctx: HandlerContext;

  private constructor(
    private readonly client: MqttClient,
    private readonly options: SiteLogicOptions,
  ) {
    this.book = new EdgeBook(options.messageBufferSize);
    this.ctx = {
      book: this.book,
      pending: this.pending,
      logger: options.logger,
      onUpdateState: options.onUpdateState,
    };
  }

  static async start(options: SiteLogicOptions): Promise<SiteLogic> {
    const statusTopic = serverStatusTopic(options.siteId);
    const client = mqtt.connect(options.url, {
      clientId: options.clientId,
      ...(options.username ? { username: options.username } : {}),
      ...(options.password ? { password: options.password } : {}),
      ...(options.ca ? { ca: options.ca, rejectUnauthorized: true } : {}),
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 1_000,
      connectTimeout: CONNECT_TIMEOUT_MS,
      will: { topic: statusTopic, payload: Buffer.from(JSON.stringify(serverStatus('offline'))), qos: 1, retain: true },
    });
    const logic = new SiteLogic(client, options);
    client.on('message', (topic, payload, packet) => logic.dispatch(topic, payload, packet.retain));
    client.on('error', (error) => options.logger.warn('site_client_error', { error }));
    client.on('connect', () => {
      client.publish(statusTopic, JSON.stringify(serverStatus('online')), { qos: 1, retain: true });
      if (!options.subscribeToEdges) return;
      // Each (re)connect re-announces the server and re-subscribes: a broker restart loses both.
      const filters = EDGE_PUBLISH_CHANNELS.map((channel) => `${TOPIC_ROOT}/${options.siteId}/edges/+/${channel}`);
      client.subscribe(filters, { qos: 1 }, (error, granted) => {
        const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? [];
        if (error || refused.length) options.logger.error('site_subscribe_failed', { error, refused });
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end(true);
        reject(
          new Error(`the broker at ${options.url} did not accept the site server within ${CONNECT_TIMEOUT_MS} ms`),
        );
      }, CONNECT_TIMEOUT_MS);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return logic;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /**
   * An edge's PUBLISH, handed over by the embedded broker before it acknowledges it. Live by definition; a
   * retained empty payload clears the broker's copy and is not a message.
   */
  receiveInBroker(topic: string, payload: Buffer, retain: boolean): void {
    if (payload.length === 0 && retain) return;
    this.dispatch(topic, payload, false);
  }

  /** Never throws: a handler bug or a bad payload costs that one message, not the server. */
  private dispatch(topic: string, payload: Buffer, retained: boolean): void {
    const parsed = parseEdgeTopic(topic);
    if (!parsed || parsed.siteId !== this.options.siteId) return;
    const handler = HANDLERS[parsed.channel];
    const record = this.book.touch(parsed.edgeId);
    if (!handler || !record) return;
    const message = { record, channel: parsed.channel, payload, retained, receivedAt: new Date().toISOString() };
    try {
      if (payload.length > this.options.maxPayloadBytes)
        return storeRefused(
          this.ctx,
          message,
          `payload of ${payload.length} bytes exceeds ${this.options.maxPayloadBytes}`,
        );
      // A retained empty payload is a broker-side clear, not a message.
      if (payload.length === 0 && retained) return;
      handler(this.ctx, message);
    } catch (error) {
      this.options.logger.error('handler_failed', { edgeId: parsed.edgeId, channel: parsed.channel, error });
    }
  }

  get maxPayloadBytes(): number {
    return this.options.maxPayloadBytes;
  }

  /**
   * QoS 1 publish, bounded: an oversized payload is refused here (the broker would cut this client and mqtt.js
   * would resend it on every reconnect), and a PUBACK that does not come within PUBLISH_TIMEOUT_MS is an error.
   */
  private send(topic: string, payload: string, retain: boolean): Promise<void> {
    const bytes = Buffer.byteLength(payload);
    if (bytes > this.options.maxPayloadBytes)
      return Promise.reject(
        new Error(`a payload of ${bytes} bytes exceeds the broker's limit of ${this.options.maxPayloadBytes}`),
      );
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the broker did not acknowledge the publish within ${PUBLISH_TIMEOUT_MS} ms`)),
        PUBLISH_TIMEOUT_MS,
      );
      this.client.publish(topic, payload, { qos: 1, retain }, (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      });
    });
  }

  private publish(topic: string, payload: unknown, retain: boolean): Promise<void> {
    return this.send(topic, JSON.stringify(payload), retain);
  }

  /**
   * Publishes a retained config push with the next (or the requested) version. The version is claimed in the
   * database first, so it only ever grows, across restarts too, up to MAX_CONFIG_VERSION. A reset (`resetFrom`:
   * the version the edge holds) records the requested version (default 1) whatever came before. With `waitMs`,
   * waits for the edge's report of that version (or a later one); the wait is registered before publishing,
   * since a fast edge answers before our own PUBACK arrives.
   */
  async pushConfig(
    edgeId: string,
    config: RuntimeConfigPatch,
    options: { version?: number | undefined; resetFrom?: number | undefined; waitMs?: number | undefined } = {},
  ): Promise<{ ok: true; version: number; reported?: ConfigReported | undefined } | { ok: false; current: number }> {
    const { version: requestedVersion, resetFrom, waitMs } = options;
    const now = new Date().toISOString();
    const claim = this.options.store.claimConfigVersion(edgeId, requestedVersion, config, now, resetFrom !== undefined);
    if (!claim.ok) return claim;
    const push = ConfigPush.parse({
      version: claim.version,
      config,
      ...(resetFrom === undefined ? {} : { resetFrom }),
    });
    const reported = waitMs === undefined ? undefined : this.pending.waitForConfig(edgeId, claim.version, waitMs);
    await this.publish(edgeTopics(edgeTopicPrefix(this.options.siteId, edgeId)).config, push, true);
    this.options.logger.info('config_pushed', { edgeId, version: claim.version, resetFrom: resetFrom ?? null });
    return reported
      ? { ok: true, version: claim.version, reported: await reported }
      : { ok: true, version: claim.version };
  }

  /** Sends a command and waits for its result; undefined means no answer within `timeoutMs`. */
  async sendCommand(
    edgeId: string,
    command: Omit<Command, 'id'>,
    timeoutMs: number,
  ): Promise<{ id: string; result: CommandResult | undefined }> {
    const message = Command.parse({ id: randomUUID(), ...command });
    const result = this.pending.waitForCommand(message.id, timeoutMs);
    await this.publish(edgeTopics(edgeTopicPrefix(this.options.siteId, edgeId)).cmd, message, false);
    this.options.logger.info('command_sent', { edgeId, id: message.id, name: message.name });
    return { id: message.id, result: await result };
  }

  /**
   * Sets an edge's retained `P/update`: an offer or a cancellation, or null to clear it (an empty retained
   * payload). Only this privileged client may publish there (broker ACL).
   */
  publishUpdate(edgeId: string, message: UpdateMessage | null): Promise<void> {
    const topic = edgeTopics(edgeTopicPrefix(this.options.siteId, edgeId)).update;
    return this.send(topic, message === null ? '' : JSON.stringify(message), true);
  }

  /**
   * Publishes bytes exactly as given to an edge's `config` or `cmd` topic: the one way a rig can put garbage on
   * the wire (everything else this class sends is built from the contract's schemas). The edge's answer arrives
   * on `config/reported` or `cmd/result` like any other.
   */
  publishRaw(edgeId: string, channel: 'config' | 'cmd', payload: string, retain: boolean): Promise<void> {
    return this.send(edgeTopics(edgeTopicPrefix(this.options.siteId, edgeId))[channel], payload, retain);
  }

  /**
   * Publishes the retained offline status, then disconnects cleanly (no LWT needed). Bounded in every state: a
   * client that is reconnecting, or whose in-flight publishes never get their PUBACK, is dropped after
   * CLOSE_GRACE_MS instead of holding the process.
   */
  async close(): Promise<void> {
    this.pending.cancelAll();
    if (this.client.connected)
      await settlesWithin(this.publish(serverStatusTopic(this.options.siteId), serverStatus('offline'), true));
    const clean = this.client.connected && (await settlesWithin(this.client.endAsync()));
    if (!clean) await this.client.endAsync(true);
  }
}
