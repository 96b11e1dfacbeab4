/**
 * The one database interface every part uses. Two drivers implement it: better-sqlite3 on Node (tests, mocks)
 * and bun:sqlite on Bun (the device binary). Only the driver files import a driver; `open.ts` picks one.
 * The surface is deliberately the intersection of both libraries, all synchronous.
 */
export type SqlValue = string | number | bigint | Uint8Array | null;
/** Positional parameters, or one object of named ones (`@name` / `:name` / `$name` in SQL, bare keys here). */
export type SqlParams = SqlValue[] | [Record<string, SqlValue>];

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement<Row = Record<string, unknown>> {
  run(...params: SqlParams): RunResult;
  /** The first row, or undefined (both drivers normalised: bun:sqlite says null). */
  get(...params: SqlParams): Row | undefined;
  all(...params: SqlParams): Row[];
}

export type DriverName = 'better-sqlite3' | 'bun:sqlite';

export interface DriverOpenOptions {
  readOnly: boolean;
}

export interface Db {
  readonly path: string;
  readonly driver: DriverName;
  exec(sql: string): void;
  prepare<Row = Record<string, unknown>>(sql: string): Statement<Row>;
  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE): all of it commits or none of it does. A throw rolls
   * back and rethrows. Nested calls become savepoints. Power can fail at any instruction; this is the unit.
   */
  transaction<T>(fn: () => T): T;
  close(): void;
}

/** A numbered, forward-only schema step. `up` runs inside the same transaction that bumps `user_version`. */
export interface Migration {
  version: number;
  name: string;
  up: string | ((db: Db) => void);
}
