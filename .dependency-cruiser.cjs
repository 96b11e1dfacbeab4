/**
 * The boundaries between the parts of this repository (issue 16), checked in CI by `npm run lint:deps`.
 * A violation prints the rule's name and its comment, which says why the boundary exists. The script runs the
 * CLI under Bun because dependency-cruiser 18 refuses Node 20 (it supports Node 22+), which CI still uses.
 */
const RIG_CODE = '^(src/mock|src/hil|test|scripts)/';
const PARTIES = '^src/(edge|mock|hil)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'device-binary-carries-no-rig-code',
      comment:
        'The device binary (everything reachable from src/edge/main.ts) ships to customer hardware: it must not ' +
        'carry mock, HIL, test or script code. Move what both need into src/common or src/protocol.',
      severity: 'error',
      from: { path: '^src/edge/main\\.ts$' },
      to: { path: RIG_CODE, reachable: true },
    },
    {
      name: 'edge-imports-no-rig-code',
      comment:
        'src/edge is the device runtime; it must not import mock, HIL, test or script code (not even from a file ' +
        'that main.ts does not reach yet). Move what both need into src/common or src/protocol.',
      severity: 'error',
      from: { path: '^src/edge/' },
      to: { path: RIG_CODE },
    },
    {
      name: 'protocol-imports-only-protocol',
      comment:
        'src/protocol is the contract between edge, cloud and site server: it may import libraries and other ' +
        'protocol files, nothing else of ours, so every party can depend on it without pulling in another party.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^(src|test|scripts)/', pathNot: '^src/protocol/' },
    },
    {
      name: 'storage-knows-no-party',
      comment:
        'src/storage is the SQLite layer every party uses: it must not import the edge, a mock or the HIL rig. ' +
        "Each party's schema (migrations) lives with that party and is passed in.",
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: `${PARTIES}|^(test|scripts)/` },
    },
    {
      name: 'common-imports-no-party',
      comment:
        'src/common holds code every party shares (logging, TLS ciphers, sleep, process helpers): it must not ' +
        'import a party, or the mocks would pull in the device (and the device the mocks).',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: `${PARTIES}|^(test|scripts)/` },
    },
    {
      name: 'mock-cloud-and-site-server-talk-over-the-wire',
      comment:
        'The mock cloud and the mock site server stand in for two separate products: they talk only over HTTP, ' +
        'never by importing each other. Share contract code through src/protocol.',
      severity: 'error',
      from: { path: '^src/mock/cloud/' },
      to: { path: '^src/mock/site-server/' },
    },
    {
      name: 'mock-site-server-and-cloud-talk-over-the-wire',
      comment:
        'The mock site server and the mock cloud stand in for two separate products: they talk only over HTTP, ' +
        'never by importing each other. Share contract code through src/protocol.',
      severity: 'error',
      from: { path: '^src/mock/site-server/' },
      to: { path: '^src/mock/cloud/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
