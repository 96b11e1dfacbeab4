/** bun:sqlite driver (Bun, and the compiled device binary). Never imported under Node. */
import { Database } from 'bun:sqlite';
import type { Db, SqlParams, SqlValue, Statement } from './db.js';

type BunParams = SqlValue[] | [Record<string, SqlValue>];

export function openBunDriver(path: string, options: { readonly?: boolean } = {}): Db {
  // strict: named parameters are bound by bare key, as better-sqlite3 does.
  const native = new Database(
    path,
    options.readonly ? { readonly: true, strict: true } : { create: true, readwrite: true, strict: true },
  );
  return {
    path,
    driver: 'bun:sqlite',
    exec: (sql) => void native.run(sql),
    prepare<Row>(sql: string): Statement<Row> {
      const statement = native.prepare(sql);
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
