import { SyncError } from '../../../src/errors.js'
import type { SqliteDriver, SqlRow, SqlValue } from './driver.js'
import { mapSqliteError, type SqliteErrorContext } from './map-error.js'

/**
 * The driver as the adapter uses it: every call awaited (sync and async drivers look alike), one
 * call at a time, and every failure turned into a `SyncError` by {@link mapSqliteError}, so no other
 * file handles a driver error.
 */
export class Connection {
  readonly #driver: SqliteDriver
  readonly #context: SqliteErrorContext
  // Calls chain onto the previous one's settlement: a callback may start several (`Promise.all`),
  // and an async driver is not required to accept overlapping calls on one connection.
  #tail: Promise<unknown> = Promise.resolve()

  constructor(driver: SqliteDriver, context: SqliteErrorContext) {
    this.#driver = driver
    this.#context = context
  }

  exec(sql: string): Promise<void> {
    return this.#call(async () => {
      await this.#driver.exec(sql)
    })
  }

  run(sql: string, params: readonly SqlValue[]): Promise<void> {
    return this.#call(async () => {
      await this.#driver.run(sql, params)
    })
  }

  all(sql: string, params: readonly SqlValue[]): Promise<readonly SqlRow[]> {
    return this.#call(async () => this.#driver.all(sql, params))
  }

  /**
   * Ends the open transaction, if any. Its failure is dropped: SQLite rolls some failed statements
   * back by itself (a full disk, an I/O error), and then there is nothing left to roll back; the
   * caller reports the error that made it roll back instead.
   */
  rollback(): Promise<void> {
    return this.exec('ROLLBACK').catch(ignore)
  }

  close(): Promise<void> {
    return this.#call(async () => {
      await this.#driver.close()
    })
  }

  /** A TEXT column; `null` only where `nullable`. Anything else means the file holds foreign data. */
  text(row: SqlRow, column: string): string
  text(row: SqlRow, column: string, nullable: true): string | null
  text(row: SqlRow, column: string, nullable = false): string | null {
    const value = row[column]
    if (typeof value === 'string' || (nullable && value === null)) return value
    throw this.#corrupt(column, value)
  }

  /** An INTEGER (or REAL) column. Drivers in 64-bit mode return `bigint`; the model holds numbers. */
  number(row: SqlRow, column: string): number {
    const value = row[column]
    if (typeof value === 'number') return value
    if (typeof value === 'bigint') return Number(value)
    throw this.#corrupt(column, value)
  }

  #call<T>(call: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(call).catch((error: unknown) => {
      throw mapSqliteError(error, this.#context)
    })
    this.#tail = result.then(ignore, ignore)
    return result
  }

  #corrupt(column: string, value: unknown): SyncError {
    return new SyncError('STORAGE_CORRUPT', `the column ${column} holds an unexpected ${typeof value}`, {
      adapter: this.#context.adapter,
      details: {
        column,
        type: value === null ? 'null' : typeof value,
        ...(this.#context.instance === undefined ? {} : { instance: this.#context.instance }),
      },
    })
  }
}

function ignore(): void {}
