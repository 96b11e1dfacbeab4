/** better-sqlite3 driver (Node). Never imported under Bun: better-sqlite3 does not load there. */
import Database from 'better-sqlite3';
import type { Db, DriverOpenOptions, SqlParams, Statement } from './db.js';

export function openNodeDriver(path: string, options: DriverOpenOptions): Db {
  // The file exists already (open.ts creates it with checked mode and owner); SQLite never creates it.
  const native = new Database(path, { readonly: options.readOnly, fileMustExist: path !== ':memory:' });
  return {
    path,
    driver: 'better-sqlite3',
    exec: (sql) => void native.exec(sql),
    prepare<Row>(sql: string): Statement<Row> {
      const statement = native.prepare(sql);
      // Statements that return no rows (INSERT, UPDATE, ...) refuse .get/.all in better-sqlite3; keep them callable.
      return {
        run: (...params: SqlParams) => statement.run(...params),
        get: (...params: SqlParams) =>
          statement.reader ? (statement.get(...params) as Row | undefined) : (statement.run(...params), undefined),
        all: (...params: SqlParams) =>
          statement.reader ? (statement.all(...params) as Row[]) : (statement.run(...params), []),
      };
    },
    transaction: <T>(fn: () => T): T => native.transaction(fn).immediate(),
    close: () => native.close(),
  };
}
