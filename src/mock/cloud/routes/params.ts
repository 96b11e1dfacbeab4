/** Path parameter shapes shared by the site routes. A malformed id is a 400 with details; an unknown one a 404. */
import { z } from 'zod';
import { EdgeId, Uuid } from '../../../protocol/index.js';

export const OrgParams = z.object({ orgId: Uuid });
export const SiteParams = OrgParams.extend({ siteId: Uuid });
export const EdgeParams = SiteParams.extend({ edgeId: EdgeId });
export const CampaignParams = SiteParams.extend({ campaignId: Uuid });
