export * from './common.js';
export * from './errors.js';
export * from './cloud-api.js';
export * from './tokens.js';
export * from './topics.js';
export * from './messages.js';
export * from './pairing.js';
export * from './verify.js';
