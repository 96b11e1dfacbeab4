/**
 * `CONSYSTENCE_EDGE_SITE_CHECK_AFTER_SECONDS`: how long the site server may stay unreachable (or refuse this
 * device's TLS) before `run` asks the cloud where it is now (issue 17). Default 10 minutes; rigs set seconds.
 */
import { EdgeError } from '../errors.js';
import type { EdgeRuntimeOptions } from '../runtime.js';

export const SITE_CHECK_ENV = 'CONSYSTENCE_EDGE_SITE_CHECK_AFTER_SECONDS';

export function siteCheckOption(env: NodeJS.ProcessEnv): Pick<EdgeRuntimeOptions, 'siteCheckAfterMs'> {
  const text = env[SITE_CHECK_ENV];
  if (text === undefined || text === '') return {};
  const seconds = Number(text);
  if (!/^\d{1,5}$/.test(text) || seconds < 1 || seconds > 86_400)
    throw new EdgeError('USAGE', `${SITE_CHECK_ENV} must be whole seconds from 1 to 86400, not "${text.slice(0, 20)}"`);
  return { siteCheckAfterMs: seconds * 1000 };
}
