/** Organisations: any signed-in user may create one (and becomes its owner); members list and read theirs. */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { CreateOrganisationRequest, CLOUD_ROUTES } from '../../../protocol/index.js';
import type { CloudDeps, CloudEnv } from '../context.js';
import { HttpError } from '../../../common/http/http-error.js';
import { requireAuth, requireRole } from '../middleware/auth.js';
import { readJson } from '../middleware/body.js';
import {
  findOrganisation,
  insertOrganisation,
  listOrganisations,
  organisationSlugTaken,
  type OrganisationRow,
} from '../store/organisations.js';
import { insertMembership, membershipsOf } from '../store/users.js';
import { organisationView } from '../views.js';

const DEFAULT_ORG_TIMEZONE = 'UTC';

export function organisationRoutes(deps: CloudDeps): Hono<CloudEnv> {
  const { db } = deps;
  return new Hono<CloudEnv>()
    .post(CLOUD_ROUTES.organisations, requireAuth(deps), async (c) => {
      const body = await readJson(c, CreateOrganisationRequest);
      const org: OrganisationRow = {
        id: randomUUID(),
        name: body.name,
        slug: body.slug,
        timezone: body.timezone ?? DEFAULT_ORG_TIMEZONE,
        createdAt: deps.clock.iso(),
      };
      db.transaction(() => {
        if (organisationSlugTaken(db, org.slug))
          throw new HttpError(409, 'SLUG_TAKEN', `the slug ${org.slug} is taken`, [
            { field: 'slug', message: 'taken' },
          ]);
        insertOrganisation(db, org);
        insertMembership(db, org.id, c.get('user').id, 'owner');
      });
      deps.logger.info('organisation_created', { orgId: org.id, slug: org.slug });
      return c.json(organisationView(org, 'owner'), 201);
    })
    .get(CLOUD_ROUTES.organisations, requireAuth(deps), (c) => {
      const user = c.get('user');
      const data = user.platformAdmin
        ? listOrganisations(db).map((org) => organisationView(org, 'owner'))
        : membershipsOf(db, user.id).map((m) => organisationView(findOrganisation(db, m.orgId)!, m.role));
      return c.json({ data });
    })
    .get(CLOUD_ROUTES.organisation, requireAuth(deps), requireRole(deps, 'viewer'), (c) => {
      const org = findOrganisation(db, c.req.param('orgId'))!;
      return c.json(organisationView(org, c.get('role')));
    });
}
