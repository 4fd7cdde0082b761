import type { RxJsonSchema } from 'rxdb'

/** One record of the workload as an RxDB document: the key is the primary key. */
export interface KeyValueDoc {
  id: string
  value: string
}

export const KEY_VALUE_SCHEMA: RxJsonSchema<KeyValueDoc> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: { type: 'string', maxLength: 128 }, value: { type: 'string' } },
  required: ['id', 'value'],
}

/**
 * Collections of the server database: `cold` holds the seeded records; each live row writes to a
 * collection of its own, so a device never starts by pulling another row's writes.
 */
export const RXDB_COLLECTIONS = ['cold', 'writes', 'dexie', 'localstorage', 'memory'] as const
export type RxdbCollectionName = (typeof RXDB_COLLECTIONS)[number]

/** The WebSocket path of the RxDB server. */
export const RXDB_SOCKET_PATH = '/rxdb'
