/** The one site server registered for a site. Re-registering replaces it (and its site token, by `token_jti`). */
import type { SiteSigningKey } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

export interface ServerRow {
  siteId: string;
  hardwareId: string;
  version: string;
  hostname: string;
  apiUrl: string;
  mqttUrl: string;
  /** The CA of the server's mqtts listener, for edges (null: none given). */
  mqttCaPem: string | null;
  tokenJti: string;
  /** The key the server signs site-issued edge tokens with (register-server `signingKey`); null: none given. */
  signingKey: SiteSigningKey | null;
  registeredAt: string;
  revokedAt: string | null;
}

export function findServer(db: Db, siteId: string): ServerRow | undefined {
  const row = db
    .prepare<Omit<ServerRow, 'signingKey'> & { signingJwk: string | null }>(
      'SELECT site_id AS siteId, hardware_id AS hardwareId, version, hostname, api_url AS apiUrl, mqtt_url AS mqttUrl, mqtt_ca_pem AS mqttCaPem, token_jti AS tokenJti, signing_jwk AS signingJwk, registered_at AS registeredAt, revoked_at AS revokedAt FROM site_servers WHERE site_id = ?',
    )
    .get(siteId);
  if (!row) return undefined;
  const { signingJwk, ...server } = row;
  return { ...server, signingKey: signingJwk === null ? null : (JSON.parse(signingJwk) as SiteSigningKey) };
}

export function upsertServer(db: Db, server: ServerRow): void {
  db.prepare(`INSERT INTO site_servers (site_id, hardware_id, version, hostname, api_url, mqtt_url, mqtt_ca_pem, token_jti, signing_jwk, registered_at, revoked_at)
              VALUES (@siteId, @hardwareId, @version, @hostname, @apiUrl, @mqttUrl, @mqttCaPem, @tokenJti, @signingJwk, @registeredAt, NULL)
              ON CONFLICT (site_id) DO UPDATE SET hardware_id = excluded.hardware_id, version = excluded.version, hostname = excluded.hostname,
                api_url = excluded.api_url, mqtt_url = excluded.mqtt_url, mqtt_ca_pem = excluded.mqtt_ca_pem, token_jti = excluded.token_jti,
                signing_jwk = excluded.signing_jwk, registered_at = excluded.registered_at, revoked_at = NULL`).run({
    siteId: server.siteId,
    hardwareId: server.hardwareId,
    version: server.version,
    hostname: server.hostname,
    apiUrl: server.apiUrl,
    mqttUrl: server.mqttUrl,
    mqttCaPem: server.mqttCaPem,
    tokenJti: server.tokenJti,
    signingJwk: server.signingKey === null ? null : JSON.stringify(server.signingKey),
    registeredAt: server.registeredAt,
  });
}

export function revokeServer(db: Db, siteId: string, at: string): void {
  db.prepare('UPDATE site_servers SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL').run(at, siteId);
}
