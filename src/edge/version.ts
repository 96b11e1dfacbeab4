/**
 * The version the device reports (register-edge body, online status, `version`). The compiled binary gets both
 * values from `bun build --define __CST_VERSION__='"1.2.3"' --define __CST_BUILD_TIME__='"…"'`; from source they
 * fall back to package.json's version and 'dev'.
 */
import packageJson from '../../package.json' with { type: 'json' };

declare const __CST_VERSION__: string | undefined;
declare const __CST_BUILD_TIME__: string | undefined;

/**
 * From source only (tests have no second build): `CONSYSTENCE_EDGE_DEV_VERSION` stands in for another version, so
 * an update test can start "the new version" as the same code. A compiled binary ignores it.
 */
export const VERSION: string =
  typeof __CST_VERSION__ === 'string'
    ? __CST_VERSION__
    : process.env.CONSYSTENCE_EDGE_DEV_VERSION || packageJson.version;
export const BUILD_TIME: string = typeof __CST_BUILD_TIME__ === 'string' ? __CST_BUILD_TIME__ : 'dev';
