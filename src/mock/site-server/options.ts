/**
 * The site server's options, declared once: the CLI parses flags into this schema and the library validates
 * what callers pass with it, so a bad port or a missing `--code` is refused the same way on both paths.
 */
import { z } from 'zod';
import { Hostname, MAX_PAYLOAD_BYTES, Uuid } from '../../protocol/index.js';
import type { Logger } from '../../common/log/log.js';

/** The edge-facing HTTPS API's port, as the platform documents it (`https://site-server.local:5000`). */
export const DEFAULT_EDGE_PORT = 5000;
const Port = z.coerce.number().int().min(0).max(65_535);
/** A file path; the file itself is read and checked at start (tls/server-tls.ts), with a message naming the flag. */
const FilePath = z.string().min(1).max(4096);

export const SiteServerOptions = z
  .strictObject({
    /** The cloud's base URL (register-server, JWKS, edge list). */
    cloud: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .transform((url) => url.replace(/\/+$/, '')),
    orgId: Uuid,
    siteId: Uuid,
    /** A pairing code or an admin+ access token; needed only on the first start (no registration in `db` yet). */
    code: z.string().min(1).max(4096).optional(),
    token: z.string().min(1).max(8192).optional(),
    /** Sent to register-server; defaults to the hex SHA-256 of the machine id. */
    hardwareId: z.string().min(1).max(128).optional(),
    host: z.string().min(1).max(253).default('127.0.0.1'),
    /** The host name put into the endpoints edges are told to use; defaults to `host`. */
    publicHost: Hostname.optional(),
    /** Where the control API listens: loopback unless a rig asks otherwise, whatever `host` MQTT is on. */
    controlHost: z.string().min(1).max(253).default('127.0.0.1'),
    /** The control API's bearer token; generated (and printed in the ready line) when absent. */
    controlToken: z.string().min(16).max(512).optional(),
    mqttPort: Port.default(1883),
    httpPort: Port.default(8080),
    /** The edge-facing HTTPS API (issue 15). Default 5000; with `httpPort: 0`, an ephemeral port too. */
    edgePort: Port.optional(),
    /** Where the edge API listens; defaults to `host`. */
    edgeHost: z.string().min(1).max(253).optional(),
    /** Air-gapped site: the offline licence file a site admin exported (checked at start). */
    licenceFile: FilePath.optional(),
    /** The cloud's licence keys (`{"keys":[{kid, jwk}]}`); defaults to the repository's `keys/licence-keys.json`. */
    licenceKeys: FilePath.optional(),
    /** Never relay registrations to the cloud: decide them with the licence file, as when it is unreachable. */
    offline: z.boolean().default(false),
    /** SQLite file holding the registration, the JWKS and the edge list; ':memory:' forgets them on exit. */
    db: z.string().min(1).max(4096).default(':memory:'),
    /**
     * Where update artifacts are kept (`updates/<sha256>.artifact`); defaults to `<db without extension>.data`
     * beside the database, or a temp dir (removed on close) for ':memory:'.
     */
    dataDir: FilePath.optional(),
    /** A release-keys file (`{"sequence":N,"keys":[{kid,jwk}]}`) trusted besides the built-in keys. */
    releaseKeys: FilePath.optional(),
    refreshSeconds: z.coerce.number().min(0.2).max(86_400).default(30),
    broker: z.enum(['embedded', 'external']).default('embedded'),
    brokerUrl: z
      .url({ protocol: /^mqtts?$/ })
      .max(2048)
      .optional(),
    brokerUsername: z.string().min(1).max(256).optional(),
    brokerPassword: z.string().min(1).max(4096).optional(),
    /** PUBLISH payloads above this are refused (embedded broker: the connection is closed). */
    maxPayloadBytes: z.coerce
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(MAX_PAYLOAD_BYTES),
    /** How many recent messages are kept per edge for `GET /edges/{id}/messages`. */
    messageBufferSize: z.coerce.number().int().min(1).max(100_000).default(500),
    /** PEM certificate and private key: the embedded broker's public listener speaks MQTT over TLS (mqtts://). */
    tlsCert: FilePath.optional(),
    tlsKey: FilePath.optional(),
    /**
     * PEM of the CA that signed the broker's certificate (the embedded one's, or the external broker's): sent to the
     * cloud at registration so paired edges trust it, and trusted by the site logic for an mqtts:// --broker-url.
     */
    tlsCa: FilePath.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.offline && !o.licenceFile)
      ctx.addIssue({
        code: 'custom',
        path: ['offline'],
        message: '--offline needs --licence-file FILE (registrations are then checked against it)',
      });
    if (o.code && o.token)
      ctx.addIssue({ code: 'custom', path: ['code'], message: 'give either --code or --token, not both' });
    if (o.broker === 'external' && !o.brokerUrl)
      ctx.addIssue({
        code: 'custom',
        path: ['brokerUrl'],
        message: '--broker external needs --broker-url mqtt://host:port',
      });
    if (o.broker === 'embedded' && (o.brokerUrl || o.brokerUsername || o.brokerPassword)) {
      ctx.addIssue({
        code: 'custom',
        path: ['brokerUrl'],
        message: '--broker-url, --broker-username and --broker-password need --broker external',
      });
    }
    if (!o.tlsCert !== !o.tlsKey)
      ctx.addIssue({
        code: 'custom',
        path: [o.tlsCert ? 'tlsKey' : 'tlsCert'],
        message: '--tls-cert and --tls-key go together: give both, or neither for plain mqtt://',
      });
    if (o.broker === 'external' && (o.tlsCert || o.tlsKey)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tlsCert'],
        message:
          '--tls-cert/--tls-key serve the embedded broker; an external broker has its own TLS (give only --tls-ca, its CA)',
      });
    }
    if (o.broker === 'embedded' && o.tlsCa && !o.tlsCert)
      ctx.addIssue({
        code: 'custom',
        path: ['tlsCa'],
        message: '--tls-ca needs --tls-cert and --tls-key (the embedded broker is plain mqtt:// without them)',
      });
    if (o.broker === 'external' && o.tlsCa && o.brokerUrl && !o.brokerUrl.startsWith('mqtts:')) {
      ctx.addIssue({ code: 'custom', path: ['tlsCa'], message: '--tls-ca is for an mqtts:// --broker-url' });
    }
  });
export type SiteServerOptionsInput = z.input<typeof SiteServerOptions>;
export type SiteServerOptions = z.output<typeof SiteServerOptions>;

/** Non-serialisable collaborators, kept out of the schema. */
export interface SiteServerDeps {
  logger?: Logger;
}
