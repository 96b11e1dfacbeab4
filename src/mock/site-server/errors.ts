import { REPLACED_EXIT_CODE } from './upstream/cloud-status.js';

/** Coded start-up errors: the CLI prints the message and exits with the code's status (2 usage, 10 replaced, 1 otherwise). */
export type SiteServerErrorCode =
  | 'USAGE'
  | 'REGISTRATION_FAILED'
  | 'WRONG_DATABASE'
  | 'BROKER_UNREACHABLE'
  /** The offline licence file does not verify or is not for this site and server. */
  | 'LICENCE_FILE'
  /** Another site server was registered for this site (exit 10, `REPLACED_EXIT_CODE`). */
  | 'REPLACED';

export class SiteServerError extends Error {
  override readonly name = 'SiteServerError';
  constructor(
    readonly code: SiteServerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get exitCode(): number {
    if (this.code === 'USAGE') return 2;
    return this.code === 'REPLACED' ? REPLACED_EXIT_CODE : 1;
  }
}
