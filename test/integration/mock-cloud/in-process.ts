/** Drives a mock cloud in process (hono's `app.request`, no socket) for the table-driven tests. */
import { createCloud, type Cloud, type CloudOptions } from '../../../src/mock/cloud/cloud.js';
import { DEFAULT_SEED, DEMO_PASSWORD, type Seed } from '../../../src/mock/cloud/seed.js';

export const PUBLIC_URL = 'http://cloud.test';
export const OUTSIDER = 'outsider@other.test';

/** The default seed plus a user who belongs to no organisation. */
export const SEED_WITH_OUTSIDER: Seed = {
  ...DEFAULT_SEED,
  users: [
    ...DEFAULT_SEED.users,
    { id: '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', email: OUTSIDER, password: DEMO_PASSWORD },
  ],
};

export interface Call {
  method: string;
  path: string;
  body?: unknown;
  bearer?: string;
  headers?: Record<string, string>;
  rawBody?: string | Uint8Array;
}

export class InProcessCloud {
  private constructor(readonly cloud: Cloud) {}

  static async start(options: Partial<CloudOptions> & { seed?: Seed } = {}): Promise<InProcessCloud> {
    return new InProcessCloud(await createCloud({ publicUrl: PUBLIC_URL, seed: SEED_WITH_OUTSIDER, ...options }));
  }

  async call(call: Call): Promise<{ status: number; json: any; headers: Headers }> {
    const headers: Record<string, string> = { ...call.headers };
    if (call.bearer) headers.Authorization = `Bearer ${call.bearer}`;
    let body: string | Uint8Array | undefined = call.rawBody;
    if (call.body !== undefined) body = JSON.stringify(call.body);
    if (body !== undefined) headers['Content-Type'] ??= 'application/json';
    const res = await this.cloud.app.request(`${PUBLIC_URL}${call.path}`, {
      method: call.method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, json, headers: res.headers };
  }

  async ok(call: Call): Promise<any> {
    const res = await this.call(call);
    if (res.status >= 300) throw new Error(`${call.method} ${call.path} → ${res.status} ${JSON.stringify(res.json)}`);
    return res.json;
  }

  async token(email: string): Promise<string> {
    return (await this.ok({ method: 'POST', path: '/api/auth/login', body: { email, password: DEMO_PASSWORD } }))
      .accessToken;
  }

  /** Every row of every table: a change of state anywhere shows as a difference. */
  snapshot(): Record<string, unknown[]> {
    const tables = this.cloud.db
      .prepare<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all();
    return Object.fromEntries(
      tables.map(({ name }) => [name, this.cloud.db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all()]),
    );
  }

  close(): void {
    this.cloud.close();
  }
}
