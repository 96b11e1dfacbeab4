/** Coded start-up errors: the CLI prints the message and exits with the code's status (2 usage, 1 otherwise). */
export type SiteServerErrorCode = 'USAGE' | 'REGISTRATION_FAILED' | 'WRONG_DATABASE' | 'BROKER_UNREACHABLE';

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
    return this.code === 'USAGE' ? 2 : 1;
  }
}
