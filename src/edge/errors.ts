/**
 * Coded edge errors. Each code has one exit code and a message a technician can act on ("what happened. what to
 * do"). Messages never contain a secret: callers build them from codes and ids, never from tokens or bodies.
 */
export const ExitCodes = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  CLOUD_REFUSED: 3,
  CLOUD_UNREACHABLE: 4,
  VERIFICATION_FAILED: 5,
  STATE_DIR_UNUSABLE: 6,
  NOT_PAIRED: 7,
  CHECK_FAILED: 8,
  /** `produce`: nothing answers at the producer API (the service is stopped, or listens elsewhere). */
  PRODUCER_UNREACHABLE: 9,
} as const;
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

export type EdgeErrorCode =
  | 'USAGE'
  | 'CLOUD_REFUSED'
  | 'CLOUD_UNREACHABLE'
  | 'CLOUD_RESPONSE_INVALID'
  | 'TOKEN_REJECTED'
  | 'STATE_DIR_UNUSABLE'
  | 'NOT_PAIRED'
  | 'ALREADY_PAIRED'
  /** `reset`, `pair --force` or a second `run` while the service holds the run lock. */
  | 'SERVICE_RUNNING'
  /** A `pair`/`register` is running, or an interrupted one is pending and this command would abandon it. */
  | 'REGISTRATION_PENDING'
  | 'REVOKED'
  /** `register`: the site server's key is not the fingerprint given (or pinned before); nothing was sent. */
  | 'SITE_IDENTITY_MISMATCH'
  /** `register`: the site server's fingerprint was not confirmed (declined, or no terminal and no flag). */
  | 'SITE_NOT_TRUSTED'
  | 'PRODUCER_UNREACHABLE'
  | 'PRODUCER_REFUSED'
  /** `update install --file`: the bundle failed a check (signature, arch, version, space, sha256). */
  | 'UPDATE_REFUSED'
  | 'INTERNAL';

const EXIT_BY_CODE: Record<EdgeErrorCode, ExitCode> = {
  USAGE: ExitCodes.USAGE,
  ALREADY_PAIRED: ExitCodes.USAGE,
  SERVICE_RUNNING: ExitCodes.USAGE,
  REGISTRATION_PENDING: ExitCodes.USAGE,
  CLOUD_REFUSED: ExitCodes.CLOUD_REFUSED,
  CLOUD_UNREACHABLE: ExitCodes.CLOUD_UNREACHABLE,
  CLOUD_RESPONSE_INVALID: ExitCodes.VERIFICATION_FAILED,
  TOKEN_REJECTED: ExitCodes.VERIFICATION_FAILED,
  STATE_DIR_UNUSABLE: ExitCodes.STATE_DIR_UNUSABLE,
  NOT_PAIRED: ExitCodes.NOT_PAIRED,
  REVOKED: ExitCodes.NOT_PAIRED,
  SITE_IDENTITY_MISMATCH: ExitCodes.VERIFICATION_FAILED,
  SITE_NOT_TRUSTED: ExitCodes.USAGE,
  PRODUCER_UNREACHABLE: ExitCodes.PRODUCER_UNREACHABLE,
  // The service answered but did not store (disk refused, 503): a device fault, not the technician's input.
  PRODUCER_REFUSED: ExitCodes.INTERNAL,
  UPDATE_REFUSED: ExitCodes.VERIFICATION_FAILED,
  INTERNAL: ExitCodes.INTERNAL,
};

export class EdgeError extends Error {
  override readonly name = 'EdgeError';
  /** The cloud's error code when the cloud refused (e.g. PAIRING_CODE_USED). */
  readonly cloudCode: string | undefined;
  constructor(
    readonly code: EdgeErrorCode,
    message: string,
    options: { cause?: unknown; cloudCode?: string } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.cloudCode = options.cloudCode;
  }
  get exitCode(): ExitCode {
    return EXIT_BY_CODE[this.code];
  }
}
