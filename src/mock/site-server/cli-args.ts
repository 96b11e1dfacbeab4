/**
 * Flags → options. `parseArgs` in strict mode refuses unknown flags; the values then go through the same zod
 * schema as library callers use. Secrets come from a file or the environment, so they need not sit in `ps`
 * (an admin access token read from `/proc/<pid>/cmdline` once minted pairing codes); the old flags still work,
 * with a warning.
 */
import { parseArgs } from 'node:util';
import { readSecretFile } from '../../common/secret-file/secret-file.js';
import { SiteServerError } from './errors.js';
import type { SiteServerOptionsInput } from './options.js';

export const USAGE = `Usage: consystence-mock-site --cloud URL --org ORG_ID --site SITE_ID (--code-file FILE | --token-file FILE)
  [--mqtt-port N (1883)] [--http-port N (8080)] [--host 127.0.0.1] [--public-host NAME] [--db FILE (:memory:)]
  [--hardware-id ID] [--refresh-seconds S (30)] [--max-payload-bytes N (262144)] [--message-buffer N (500)]
  [--broker embedded|external] [--broker-url mqtt://host:port] [--broker-username U] [--broker-password-file FILE]
  [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]   embedded broker on mqtts://; --tls-ca goes to edges via the cloud
  [--edge-port N (5000)] [--edge-host HOST (--host)]   the edge-facing HTTPS API (register, identity, token); its
      certificate is --tls-cert/--tls-key, else a self-signed one made once and kept in --db; its fingerprint is in
      the ready line and on /health
  [--licence-file FILE [--licence-keys FILE] [--offline]]   air-gapped site: register edges against the offline
      licence file when the cloud is unreachable (always with --offline)
  [--control-host 127.0.0.1] [--control-token-file FILE]   the control API (on --http-port) and its bearer token;
      without a token one is generated and printed in the ready line as "controlToken"
Environment: CONSYSTENCE_SITE_CODE, CONSYSTENCE_SITE_TOKEN, CONSYSTENCE_BROKER_PASSWORD stand in for the secret files,
CONSYSTENCE_SITE_CONTROL_TOKEN for --control-token-file.
--code-file (a site-server pairing code, minted by an admin) or --token-file (an admin's access token) is needed only
on the first start with a given --db; a restart on another address, port or CA registers the change by itself.
--code, --token and --broker-password still work but show the secret to every local user (ps).
  [--data-dir DIR (<db>.data, or a temp dir for :memory:)]  where update artifacts are kept
  [--release-keys FILE]  release public keys trusted besides the built-in ones, to check update bundles
  [--replaced-linger-seconds S (30)]  once replaced, answer /health with 503 "replaced" for S seconds, then exit 10
Exit status: 0 stopped, 1 start-up failure, 2 bad flags, 10 another site server was registered for this site.`;

/** Each secret: the file flag, the old visible flag, the environment variable. */
const SECRETS = [
  { key: 'code', flag: 'code', env: 'CONSYSTENCE_SITE_CODE' },
  { key: 'token', flag: 'token', env: 'CONSYSTENCE_SITE_TOKEN' },
  { key: 'brokerPassword', flag: 'broker-password', env: 'CONSYSTENCE_BROKER_PASSWORD' },
] as const;

const FLAGS = {
  cloud: { type: 'string' },
  org: { type: 'string' },
  site: { type: 'string' },
  code: { type: 'string' },
  'code-file': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'hardware-id': { type: 'string' },
  host: { type: 'string' },
  'public-host': { type: 'string' },
  'mqtt-port': { type: 'string' },
  'http-port': { type: 'string' },
  db: { type: 'string' },
  'data-dir': { type: 'string' },
  'release-keys': { type: 'string' },
  'refresh-seconds': { type: 'string' },
  'max-payload-bytes': { type: 'string' },
  'message-buffer': { type: 'string' },
  broker: { type: 'string' },
  'broker-url': { type: 'string' },
  'broker-username': { type: 'string' },
  'broker-password': { type: 'string' },
  'broker-password-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'control-host': { type: 'string' },
  'edge-port': { type: 'string' },
  'edge-host': { type: 'string' },
  'licence-file': { type: 'string' },
  'licence-keys': { type: 'string' },
  offline: { type: 'boolean' },
  'control-token-file': { type: 'string' },
  'replaced-linger-seconds': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseCliArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
):
  | { help: true }
  | { help: false; options: SiteServerOptionsInput; warnings: string[]; replacedLingerSeconds: number } {
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
  const warnings: string[] = [];
  const secrets: Record<string, string> = {};
  for (const { key, flag, env: name } of SECRETS) {
    const file = str(`${flag}-file`);
    if (file !== undefined && str(flag) !== undefined)
      throw new SiteServerError('USAGE', `give either --${flag} or --${flag}-file, not both\n${USAGE}`);
    if (str(flag) !== undefined)
      warnings.push(
        `--${flag} shows the secret to every user of this machine (ps); use --${flag}-file FILE or env ${name}`,
      );
    const value = file !== undefined ? readSecret(file, `--${flag}-file`) : (str(flag) ?? env[name]);
    if (value !== undefined) secrets[key] = value;
  }
  const linger = str('replaced-linger-seconds') ?? '30';
  if (!/^\d{1,4}$/.test(linger))
    throw new SiteServerError('USAGE', `--replaced-linger-seconds takes whole seconds (0-9999)\n${USAGE}`);
  return {
    help: false,
    warnings,
    replacedLingerSeconds: Number(linger),
    options: {
      cloud: str('cloud')!,
      orgId: str('org')!,
      siteId: str('site')!,
      ...secrets,
      ...pick('hardwareId', str('hardware-id')),
      ...pick('host', str('host')),
      ...pick('publicHost', str('public-host')),
      ...pick('mqttPort', str('mqtt-port')),
      ...pick('httpPort', str('http-port')),
      ...pick('db', str('db')),
      ...pick('dataDir', str('data-dir')),
      ...pick('releaseKeys', str('release-keys')),
      ...pick('refreshSeconds', str('refresh-seconds')),
      ...pick('maxPayloadBytes', str('max-payload-bytes')),
      ...pick('messageBufferSize', str('message-buffer')),
      ...pick('broker', str('broker')),
      ...pick('brokerUrl', str('broker-url')),
      ...pick('brokerUsername', str('broker-username')),
      ...pick('tlsCert', str('tls-cert')),
      ...pick('tlsKey', str('tls-key')),
      ...pick('tlsCa', str('tls-ca')),
      ...pick('controlHost', str('control-host')),
      ...pick('edgePort', str('edge-port')),
      ...pick('edgeHost', str('edge-host')),
      ...pick('licenceFile', str('licence-file')),
      ...pick('licenceKeys', str('licence-keys')),
      ...(values.offline ? { offline: true } : {}),
      ...pick('controlToken', controlToken(str('control-token-file'), env)),
    } as SiteServerOptionsInput,
  };
}

function readSecret(path: string, flag: string): string {
  try {
    return readSecretFile(path, flag, { maxBytes: 16 * 1024, followLinks: true });
  } catch (error) {
    throw new SiteServerError('USAGE', (error as Error).message);
  }
}

/** The control API's token: the file's first line (so `echo … > file` works), else the environment. */
function controlToken(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file === undefined) return env.CONSYSTENCE_SITE_CONTROL_TOKEN;
  return readSecret(file, '--control-token-file').split('\n')[0]!.trim();
}
