/** `register`'s flags from a scenario's options, the same for every target (the licence key is never one of them). */
import type { RegisterOptions } from './types.js';

export function registerArgs(options: RegisterOptions): string[] {
  return [
    ...['--site-server', options.siteServerUrl],
    ...(options.fingerprint ? ['--site-server-fingerprint', options.fingerprint] : []),
    ...(options.edgeId ? ['--edge-id', options.edgeId] : []),
    ...(options.force ? ['--force'] : []),
  ];
}
