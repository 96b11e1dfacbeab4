/** Storage failures a caller (and a technician reading `doctor`) can act on. */
export type StorageErrorCode = 'STATE_DIR_UNUSABLE' | 'DATABASE_CORRUPT' | 'SCHEMA_TOO_NEW' | 'MIGRATION_FAILED';

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
