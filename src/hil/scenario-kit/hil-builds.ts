/**
 * The test builds the ota-* scenarios install (docs/updates.md, "Testing updates with HIL"), in a module of its own
 * so `npm test` can build them without loading the rig.
 */
export const HIL_BUILDS = {
  update: { version: '0.1.1-hil', suffix: '-hil', faults: '' },
  crash: { version: '0.1.2-crash', suffix: '-crash', faults: 'crash-at-start' },
  offline: { version: '0.1.3-offline', suffix: '-offline', faults: 'never-online' },
} as const;
export type HilBuild = keyof typeof HIL_BUILDS;
