/** bun:sqlite driver (Bun, and the compiled device binary). Never imported under Node. */
import { Database } from 'bun:sqlite';
import type { Db, DriverOpenOptions, SqlParams, SqlValue, Statement } from './db.js';

type BunParams = SqlValue[] | [Record<string, SqlValue>];

export function openBunDriver(path: string, options: DriverOpenOptions): Db {
  // strict: named parameters are bound by bare key, as better-sqlite3 does. The file exists already (open.ts
  // creates it with checked mode and owner); SQLite never creates it.
  const native = options.readOnly
    ? new Database(path, { readonly: true, strict: true })
    : new Database(path, { create: path === ':memory:', readwrite: true, strict: true });
  return {
    path,
    driver: 'bun:sqlite',
    exec: (sql) => void native.run(sql),
    prepare<Row>(sql: string): Statement<Row> {
      // query(), not prepare(): bun:sqlite caches these per SQL text and finalizes them on close. A statement from
      // prepare() left unfinalized defers the close, so the file, its -wal and -shm stayed open after close().
      const statement = native.query(sql);
      const bind = (params: SqlParams) => params as BunParams as never[];
      return {
        run: (...params: SqlParams) => {
          const result = statement.run(...bind(params));
          return { changes: result.changes, lastInsertRowid: result.lastInsertRowid };
        },
        get: (...params: SqlParams) => (statement.get(...bind(params)) ?? undefined) as Row | undefined,
        all: (...params: SqlParams) => statement.all(...bind(params)) as Row[],
      };
    },
    transaction: <T>(fn: () => T): T => native.transaction(fn).immediate() as T,
    // true: finalize the statements and release the file now. Without it the connection lingers until they are
    // garbage collected, still holding its share of the WAL index: a later journal_mode change then reads "locked".
    close: () => native.close(true),
  };
}
