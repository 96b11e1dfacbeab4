export type { Db, DriverName, Migration, RunResult, SqlParams, SqlValue, Statement } from './db.js';
export { StorageError, type StorageErrorCode } from './errors.js';
export { migrate, schemaVersion } from './migrate.js';
export { checkIntegrity, openDatabase, runtimeDriverName, type OpenOptions, type OpenResult } from './open.js';
export { writeFileAtomic } from './atomic-file.js';
export { openDatabaseReadOnly } from './open-readonly.js';
