/** The registration: who this edge is, where it connects, and its current edge token. */
import type { Db } from '../../storage/index.js';
import { EdgeConfig } from '../../protocol/index.js';

export interface Registration {
  edgeUuid: string;
  edgeId: string;
  orgId: string;
  siteId: string;
  cloudUrl: string;
  hardwareId: string;
  edgeToken: string;
  tokenIat: number;
  tokenExp: number;
  config: EdgeConfig;
  pairedAt: string;
  tokenRefreshedAt: string | null;
  revokedAt: string | null;
}

interface Row {
  edge_uuid: string;
  edge_id: string;
  org_id: string;
  site_id: string;
  cloud_url: string;
  hardware_id: string;
  edge_token: string;
  token_iat: number;
  token_exp: number;
  config: string;
  paired_at: string;
  token_refreshed_at: string | null;
  revoked_at: string | null;
}

export class RegistrationStore {
  constructor(private readonly db: Db) {}

  get(): Registration | null {
    const row = this.db.prepare<Row>('SELECT * FROM registration WHERE id = 1').get();
    if (!row) return null;
    return {
      edgeUuid: row.edge_uuid,
      edgeId: row.edge_id,
      orgId: row.org_id,
      siteId: row.site_id,
      cloudUrl: row.cloud_url,
      hardwareId: row.hardware_id,
      edgeToken: row.edge_token,
      tokenIat: Number(row.token_iat),
      tokenExp: Number(row.token_exp),
      // Validated on read: the file is outside input too (a bad edit or a bug must not crash the session later).
      config: EdgeConfig.parse(JSON.parse(row.config)),
      pairedAt: row.paired_at,
      tokenRefreshedAt: row.token_refreshed_at,
      revokedAt: row.revoked_at,
    };
  }

  put(reg: Registration): void {
    this.db.prepare('DELETE FROM registration').run();
    this.db
      .prepare(`INSERT INTO registration (id, edge_uuid, edge_id, org_id, site_id, cloud_url, hardware_id, edge_token, token_iat, token_exp, config, paired_at, token_refreshed_at, revoked_at)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(
        reg.edgeUuid,
        reg.edgeId,
        reg.orgId,
        reg.siteId,
        reg.cloudUrl,
        reg.hardwareId,
        reg.edgeToken,
        reg.tokenIat,
        reg.tokenExp,
        JSON.stringify(reg.config),
        reg.pairedAt,
        reg.tokenRefreshedAt,
        reg.revokedAt,
      );
  }

  updateToken(token: string, iat: number, exp: number, at: string): void {
    this.db
      .prepare(
        'UPDATE registration SET edge_token = ?, token_iat = ?, token_exp = ?, token_refreshed_at = ? WHERE id = 1',
      )
      .run(token, iat, exp, at);
  }

  /** The connection config after the device followed its site to a new endpoint (site-endpoint-store.ts). */
  updateConfig(config: EdgeConfig): void {
    this.db.prepare('UPDATE registration SET config = ? WHERE id = 1').run(JSON.stringify(EdgeConfig.parse(config)));
  }

  markRevoked(at: string): void {
    this.db.prepare('UPDATE registration SET revoked_at = ? WHERE id = 1 AND revoked_at IS NULL').run(at);
  }

  delete(): void {
    this.db.prepare('DELETE FROM registration').run();
  }
}
