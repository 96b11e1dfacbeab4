/**
 * Flags → options. `parseArgs` in strict mode refuses unknown flags; the values then go through the same zod
 * schema as library callers use. Secrets may also come from the environment, so they need not sit in `ps`.
 */
import { parseArgs } from 'node:util';
import { SiteServerError } from './errors.js';
import type { SiteServerOptionsInput } from './options.js';

export const USAGE = `Usage: consystence-mock-site --cloud URL --org ORG_ID --site SITE_ID (--code CODE | --token TOKEN)
  [--mqtt-port N (1883)] [--http-port N (8080)] [--host 127.0.0.1] [--public-host NAME] [--db FILE (:memory:)]
  [--hardware-id ID] [--refresh-seconds S (30)] [--max-payload-bytes N (262144)] [--message-buffer N (500)]
  [--broker embedded|external] [--broker-url mqtt://host:port] [--broker-username U] [--broker-password P]
  [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]   embedded broker on mqtts://; --tls-ca goes to edges via the cloud
Environment: CONSYSTENCE_SITE_CODE, CONSYSTENCE_SITE_TOKEN, CONSYSTENCE_BROKER_PASSWORD stand in for the secret flags.
--code (a site-server pairing code, minted by an admin) or --token (an admin's access token) is needed only on the
first start with a given --db; a restart on another address, port or CA registers the change by itself.
Exit status: 0 stopped, 1 start-up failure, 2 bad flags, 10 another site server was registered for this site.`;

const FLAGS = {
  cloud: { type: 'string' },
  org: { type: 'string' },
  site: { type: 'string' },
  code: { type: 'string' },
  token: { type: 'string' },
  'hardware-id': { type: 'string' },
  host: { type: 'string' },
  'public-host': { type: 'string' },
  'mqtt-port': { type: 'string' },
  'http-port': { type: 'string' },
  db: { type: 'string' },
  'refresh-seconds': { type: 'string' },
  'max-payload-bytes': { type: 'string' },
  'message-buffer': { type: 'string' },
  broker: { type: 'string' },
  'broker-url': { type: 'string' },
  'broker-username': { type: 'string' },
  'broker-password': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseCliArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { help: true } | { help: false; options: SiteServerOptionsInput } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new SiteServerError('USAGE', `${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) return { help: true };
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const missing = ['cloud', 'org', 'site'].filter((name) => !str(name));
  if (missing.length)
    throw new SiteServerError('USAGE', `missing ${missing.map((m) => `--${m}`).join(', ')}\n${USAGE}`);
  const pick = (key: keyof SiteServerOptionsInput, value: string | undefined) =>
    value === undefined ? {} : { [key]: value };
  return {
    help: false,
    options: {
      cloud: str('cloud')!,
      orgId: str('org')!,
      siteId: str('site')!,
      ...pick('code', str('code') ?? env.CONSYSTENCE_SITE_CODE),
      ...pick('token', str('token') ?? env.CONSYSTENCE_SITE_TOKEN),
      ...pick('hardwareId', str('hardware-id')),
      ...pick('host', str('host')),
      ...pick('publicHost', str('public-host')),
      ...pick('mqttPort', str('mqtt-port')),
      ...pick('httpPort', str('http-port')),
      ...pick('db', str('db')),
      ...pick('refreshSeconds', str('refresh-seconds')),
      ...pick('maxPayloadBytes', str('max-payload-bytes')),
      ...pick('messageBufferSize', str('message-buffer')),
      ...pick('broker', str('broker')),
      ...pick('brokerUrl', str('broker-url')),
      ...pick('brokerUsername', str('broker-username')),
      ...pick('brokerPassword', str('broker-password') ?? env.CONSYSTENCE_BROKER_PASSWORD),
      ...pick('tlsCert', str('tls-cert')),
      ...pick('tlsKey', str('tls-key')),
      ...pick('tlsCa', str('tls-ca')),
    } as SiteServerOptionsInput,
  };
}
