/** The ports adapters implement. Transport and push-source contracts join as their adapters arrive. */
export type { ListRecordsOptions, StorageAdapter, StorageReadTx, StorageWriteTx } from './storage.js'
