import type { StatementName } from './statements.js'

/**
 * What differs between SQLite and PostgreSQL in the text of the store's SQL. Everything else (the
 * statements, the row mapping, the transaction's methods) is written once for both.
 */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres'
  /** The column type of keys, ids and names: text that sorts by code point. */
  readonly keyType: string
  /** The column type of a flag. */
  readonly booleanType: string
  /** The smaller of two values. */
  least(a: string, b: string): string
}

export const SQLITE: SqlDialect = {
  name: 'sqlite',
  // SQLite's default collation, BINARY, compares UTF-8 bytes: code point order.
  keyType: 'TEXT',
  booleanType: 'INTEGER',
  least: (a, b) => `MIN(${a}, ${b})`,
}

export const POSTGRES: SqlDialect = {
  name: 'postgres',
  keyType: 'TEXT COLLATE "C"',
  booleanType: 'BOOLEAN',
  least: (a, b) => `LEAST(${a}, ${b})`,
}

/** Parameters of a statement, in the order of its `?`. Booleans travel as 1 and 0. */
export type SqlParams = readonly unknown[]

/**
 * One transaction's connection, as the shared transaction code uses it. Statements are named (see
 * statements.ts) so that each is prepared once per connection. Every method may reject with the
 * database's error.
 */
export interface SqlConnection {
  /** Every row the statement yields. */
  all<R>(statement: StatementName, params: SqlParams): Promise<R[]>
  /** The first row, or undefined. */
  get<R>(statement: StatementName, params: SqlParams): Promise<R | undefined>
  /** Runs a write; resolves with the number of rows it changed. */
  run(statement: StatementName, params: SqlParams): Promise<number>
  /**
   * Runs a one-row write statement for each parameter list: SQLite loops over one prepared
   * statement, PostgreSQL sends the whole batch in one statement (its columns as arrays).
   */
  runBatch(statement: StatementName, rows: readonly SqlParams[]): Promise<void>
  /**
   * Runs a lookup whose last parameter is compared with `=`, for each of `values`: SQLite loops
   * over one prepared statement, PostgreSQL compares with `= ANY` of an array, in one round trip.
   */
  allOf<R>(statement: StatementName, params: SqlParams, values: readonly unknown[]): Promise<R[]>
  /**
   * Holds a name (in a space: `setting`, `pool`...) until the transaction ends, for rows shared by
   * many identities that are read to be written back. A store with one connection has nothing to
   * hold against.
   */
  lock(space: string, name: string): Promise<void>
  /**
   * The outbox claims of a store that several processes share: this process's claim holder, or
   * `undefined` while it has none (its connection is being reopened). Absent for a store only one
   * process uses, whose outbox needs no claims.
   */
  readonly claimHolder?: () => number | undefined
}
