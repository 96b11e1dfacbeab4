/**
 * What a fresh mock cloud knows: organisations and users (with their roles). The default seed is documented in
 * README; `--seed FILE` replaces it with a file validated by `Seed`. A seed is applied only to an empty
 * database, so restarting with `--db` keeps whatever happened since.
 */
import { z } from 'zod';
import { IanaTimezone, LicenceKey, Role, Slug, Uuid } from '../../protocol/index.js';

export const Seed = z
  .strictObject({
    organisations: z
      .array(
        z.strictObject({
          id: Uuid,
          name: z.string().trim().min(1).max(200),
          slug: Slug,
          timezone: IanaTimezone,
          members: z.array(z.strictObject({ email: z.email(), role: Role })).max(1000),
          /** The organisation's edge licence keys (issue 15); a key may belong to one organisation only. */
          licences: z.array(LicenceKey).max(10_000).optional(),
        }),
      )
      .max(1000),
    users: z
      .array(
        z.strictObject({
          id: Uuid,
          email: z.email().max(320),
          password: z.string().min(1).max(1024),
          platformAdmin: z.boolean().optional(),
        }),
      )
      .max(1000),
  })
  .superRefine((seed, ctx) => {
    const licenceKeys = new Set<string>();
    seed.organisations.forEach((org, i) =>
      org.licences?.forEach((key, j) => {
        if (licenceKeys.has(key))
          ctx.addIssue({
            code: 'custom',
            path: ['organisations', i, 'licences', j],
            message: 'this licence key is listed twice',
          });
        licenceKeys.add(key);
      }),
    );
    const emails = new Set(seed.users.map((u) => u.email.toLowerCase()));
    seed.organisations.forEach((org, i) =>
      org.members.forEach((m, j) => {
        if (!emails.has(m.email.toLowerCase()))
          ctx.addIssue({
            code: 'custom',
            path: ['organisations', i, 'members', j, 'email'],
            message: 'no user with this email in `users`',
          });
      }),
    );
  });
export type Seed = z.infer<typeof Seed>;

/** The demo organisation's fixed id, so scripts and docs can name it. */
export const DEMO_ORG_ID = '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0c11';
export const DEMO_ORG_SLUG = 'demo';
/** Every seeded user's password (mock only). */
export const DEMO_PASSWORD = 'consystence';
export const DEMO_USERS = {
  owner: 'owner@demo.test',
  admin: 'admin@demo.test',
  engineer: 'engineer@demo.test',
  operator: 'operator@demo.test',
  viewer: 'viewer@demo.test',
} as const satisfies Record<Role, string>;
/**
 * The demo organisation's edge licences (mock only). They keep the platform's key format
 * (`CST-EDGE-XXXX-XXXX-XXXX`), so a device validates them like real ones.
 */
export const DEMO_LICENCE_KEYS = [1, 2, 3, 4, 5].map((n) => `CST-EDGE-DEMO-0000-000${n}`);

/** A platform admin with no organisation of its own; it may act as owner in any organisation. */
export const DEMO_PLATFORM_ADMIN = 'platform@demo.test';

const userIds: Record<keyof typeof DEMO_USERS | 'platform', string> = {
  owner: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d01',
  admin: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d02',
  engineer: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d03',
  operator: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d04',
  viewer: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d05',
  platform: '3f6c1e2a-8d4b-4e7a-9c1d-2b5e7f9a0d06',
};

export const DEFAULT_SEED: Seed = {
  organisations: [
    {
      id: DEMO_ORG_ID,
      name: 'Demo Mining Co',
      slug: DEMO_ORG_SLUG,
      timezone: 'Australia/Sydney',
      members: (Object.entries(DEMO_USERS) as Array<[Role, string]>).map(([role, email]) => ({ email, role })),
      licences: DEMO_LICENCE_KEYS,
    },
  ],
  users: [
    ...(Object.entries(DEMO_USERS) as Array<[Role, string]>).map(([role, email]) => ({
      id: userIds[role],
      email,
      password: DEMO_PASSWORD,
    })),
    { id: userIds.platform, email: DEMO_PLATFORM_ADMIN, password: DEMO_PASSWORD, platformAdmin: true },
  ],
};
