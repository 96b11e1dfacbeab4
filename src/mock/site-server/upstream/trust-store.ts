/**
 * What the site server must remember to keep admitting edges while the cloud is down: its registration, the
 * cloud's JWKS and the site's edge list. Each update is one transaction, so a crash mid-refresh leaves the
 * previous, consistent view (never a new JWKS with an old half of the edge list).
 */
import type { JSONWebKeySet } from 'jose';
import { z } from 'zod';
import { Jwks, MAX_CONFIG_VERSION } from '../../../protocol/index.js';
import type { Db } from '../../../storage/index.js';

/** What the server registered: where edges reach it and the CA bundle its broker's certificate chains to. */
export interface Endpoints {
  api: string;
  mqtt: string;
  caCertificatePem?: string;
}

export interface Registration {
  cloudUrl: string;
  orgId: string;
  siteId: string;
  /** The cloud's `iss`, read from the verified site token, so edge tokens are checked against the same issuer. */
  issuer: string;
  siteToken: string;
  config: { orgId: string; siteId: string; clusteringMode: string };
  mqttUrl: string;
  /** Absent for a registration saved before endpoints were kept: it is registered again at the next start. */
  endpoints?: Endpoints;
  registeredAt: string;
}

const StoredEndpoints = z.object({ api: z.string(), mqtt: z.string(), caCertificatePem: z.string().optional() });

export const KnownEdge = z.object({
  edgeId: z.string(),
  id: z.string().optional(),
  status: z.enum(['active', 'revoked']),
  registeredAt: z.string().optional(),
  revokedAt: z.string().optional(),
});
export type KnownEdge = z.infer<typeof KnownEdge>;

interface RegistrationRow {
  cloud_url: string;
  org_id: string;
  site_id: string;
  issuer: string;
  site_token: string;
  config_json: string;
  mqtt_url: string;
  endpoints_json: string | null;
  registered_at: string;
}
interface EdgeRow {
  edge_id: string;
  uuid: string | null;
  status: 'active' | 'revoked';
  registered_at: string | null;
  revoked_at: string | null;
}

const toEdge = (row: EdgeRow): KnownEdge => ({
  edgeId: row.edge_id,
  status: row.status,
  ...(row.uuid ? { id: row.uuid } : {}),
  ...(row.registered_at ? { registeredAt: row.registered_at } : {}),
  ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
});

/**
 * The cloud lists every registration an edge id has had: re-pairing after a revocation leaves the old, revoked
 * row beside the new, active one. The site server admits by edge id, so it keeps one per id: the active one if
 * any, else the most recent.
 */
export function currentRegistrations(edges: readonly KnownEdge[]): KnownEdge[] {
  const byId = new Map<string, KnownEdge>();
  const rank = (e: KnownEdge) => [e.status === 'active' ? 1 : 0, e.registeredAt ?? ''] as const;
  for (const edge of edges) {
    const held = byId.get(edge.edgeId);
    if (!held) {
      byId.set(edge.edgeId, edge);
      continue;
    }
    const [a, b] = [rank(edge), rank(held)];
    if (a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])) byId.set(edge.edgeId, edge);
  }
  return [...byId.values()];
}

/** The trust tables as last written, read once per change: the broker consults them on every CONNECT. */
interface TrustSnapshot {
  jwks: JSONWebKeySet | undefined;
  /** In `edge_id` order, as `edges()` lists them. */
  edges: Map<string, KnownEdge>;
  edgeListFetchedAt: string | undefined;
}

export class TrustStore {
  private snapshot: TrustSnapshot | undefined;

  constructor(private readonly db: Db) {}

  /**
   * Loaded lazily and dropped after every write (`replaceTrust`, `saveRegistration`), never patched, so it can only ever hold what the
   * database holds; the JWKS object stays the same between writes, so its verifier's key set is reused too.
   */
  private trust(): TrustSnapshot {
    this.snapshot ??= {
      jwks: this.readJwks(),
      edges: new Map(
        this.db
          .prepare<EdgeRow>('SELECT * FROM edges ORDER BY edge_id')
          .all()
          .map((row) => [row.edge_id, toEdge(row)]),
      ),
      edgeListFetchedAt: this.db
        .prepare<{ fetched_at: string }>('SELECT fetched_at FROM edge_list_meta WHERE id = 1')
        .get()?.fetched_at,
    };
    return this.snapshot;
  }

  registration(): Registration | undefined {
    const row = this.db.prepare<RegistrationRow>('SELECT * FROM registration WHERE id = 1').get();
    if (!row) return undefined;
    const endpoints = row.endpoints_json ? StoredEndpoints.safeParse(JSON.parse(row.endpoints_json)) : undefined;
    return {
      cloudUrl: row.cloud_url,
      orgId: row.org_id,
      siteId: row.site_id,
      issuer: row.issuer,
      siteToken: row.site_token,
      config: JSON.parse(row.config_json),
      mqttUrl: row.mqtt_url,
      ...(endpoints?.success ? { endpoints: endpoints.data } : {}),
      registeredAt: row.registered_at,
    };
  }

  /** Saves the registration together with the JWKS that verified its site token (one transaction). */
  saveRegistration(r: Registration, jwks: JSONWebKeySet, nowIso: string): void {
    try {
      this.db.transaction(() => {
        this.replaceTrust({ jwks }, nowIso);
        this.db.prepare('DELETE FROM registration').run();
        this.db
          .prepare(`INSERT INTO registration (id, cloud_url, org_id, site_id, issuer, site_token, config_json, mqtt_url, endpoints_json, registered_at)
          VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(
            r.cloudUrl,
            r.orgId,
            r.siteId,
            r.issuer,
            r.siteToken,
            JSON.stringify(r.config),
            r.mqttUrl,
            r.endpoints ? JSON.stringify(r.endpoints) : null,
            r.registeredAt,
          );
      });
    } finally {
      this.snapshot = undefined; // a rolled-back write must not leave its trust behind
    }
  }

  /** The registration's endpoints after the cloud accepted a change (registration-update.ts). */
  updateRegistration(r: Registration): void {
    this.db
      .prepare('UPDATE registration SET mqtt_url = ?, endpoints_json = ? WHERE id = 1')
      .run(r.mqttUrl, r.endpoints ? JSON.stringify(r.endpoints) : null);
  }

  private readJwks(): JSONWebKeySet | undefined {
    const row = this.db.prepare<{ jwks_json: string }>('SELECT jwks_json FROM jwks WHERE id = 1').get();
    if (!row) return undefined;
    const parsed = Jwks.safeParse(JSON.parse(row.jwks_json));
    return parsed.success ? (parsed.data as JSONWebKeySet) : undefined;
  }

  jwks(): JSONWebKeySet | undefined {
    return this.trust().jwks;
  }

  edge(edgeId: string): KnownEdge | undefined {
    return this.trust().edges.get(edgeId);
  }

  edges(): KnownEdge[] {
    return [...this.trust().edges.values()];
  }

  /** When the edge list was last fetched; undefined means never (an unknown edge then proves nothing). */
  edgeListFetchedAt(): string | undefined {
    return this.trust().edgeListFetchedAt;
  }

  /** Replaces the cached JWKS and/or edge list in one transaction. */
  replaceTrust(update: { jwks?: JSONWebKeySet; edges?: KnownEdge[] }, nowIso: string): void {
    try {
      this.db.transaction(() => {
        if (update.jwks) {
          this.db
            .prepare(
              'INSERT INTO jwks (id, jwks_json, fetched_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET jwks_json = excluded.jwks_json, fetched_at = excluded.fetched_at',
            )
            .run(JSON.stringify(update.jwks), nowIso);
        }
        if (update.edges) {
          this.db.prepare('DELETE FROM edges').run();
          const insert = this.db.prepare(
            'INSERT INTO edges (edge_id, uuid, status, registered_at, revoked_at) VALUES (?, ?, ?, ?, ?)',
          );
          for (const e of currentRegistrations(update.edges))
            insert.run(e.edgeId, e.id ?? null, e.status, e.registeredAt ?? null, e.revokedAt ?? null);
          this.db
            .prepare(
              'INSERT INTO edge_list_meta (id, fetched_at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET fetched_at = excluded.fetched_at',
            )
            .run(nowIso);
        }
      });
    } finally {
      this.snapshot = undefined;
    }
  }

  lastConfigVersion(edgeId: string): number {
    return (
      this.db.prepare<{ version: number }>('SELECT version FROM config_versions WHERE edge_id = ?').get(edgeId)
        ?.version ?? 0
    );
  }

  /**
   * Claims the next config version for an edge (or checks a requested one is newer) and records it, in one
   * transaction. With `reset`, the version is recorded whatever the last one was (a config reset). Versions end
   * at MAX_CONFIG_VERSION: past it, only a reset goes on.
   */
  claimConfigVersion(
    edgeId: string,
    requested: number | undefined,
    config: unknown,
    nowIso: string,
    reset = false,
  ): { ok: true; version: number } | { ok: false; current: number } {
    return this.db.transaction(() => {
      const current = this.lastConfigVersion(edgeId);
      const version = requested ?? (reset ? 1 : current + 1);
      if (!reset && (version <= current || version > MAX_CONFIG_VERSION)) return { ok: false as const, current };
      this.db
        .prepare(`INSERT INTO config_versions (edge_id, version, config_json, pushed_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(edge_id) DO UPDATE SET version = excluded.version, config_json = excluded.config_json, pushed_at = excluded.pushed_at`)
        .run(edgeId, version, JSON.stringify(config), nowIso);
      return { ok: true as const, version };
    });
  }
}
