/** The ports adapters implement. */
export type { ConnectivitySource } from './connectivity.js'
export type { PushSink, PushSource } from './push-source.js'
export type { ListRecordsOptions, StorageAdapter, StorageReadTx, StorageWriteTx } from './storage.js'
export type { TabCoordinator, TabSink } from './tab-coordinator.js'
export type {
  DeleteDatasetRequest,
  ListRecordsRequest,
  RecordsPage,
  RemoteDataset,
  Transport,
  TransportFailure,
  TransportFailureKind,
  UpdateRecordsAnswer,
  UpdateRecordsRequest,
} from './transport.js'
