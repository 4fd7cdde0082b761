/**
 * Property tests for merge logic, free of any test runner: `checkConflictResolver`, the
 * deterministic multi-device simulator it runs on, and fast-check arbitraries of what apps reason
 * about (keys, values, records, datasets, conflicts, push payloads). Needs fast-check 3.22+ or 4.
 *
 * @module pushsync/testing/merge
 */

export {
  ASTRAL,
  conflicts,
  type DatasetOptions,
  datasets,
  EMPTY_LOOKING,
  type InvalidInput,
  invalidRecordKeys,
  invalidRecordValues,
  type LimitsOption,
  type MalformedPushPayload,
  malformedPushPayloads,
  PROTOTYPE_KEYS,
  type PushPayloadCase,
  pushPayloads,
  pushSyncUpdates,
  type RecordOptions,
  type RecordValueOptions,
  recordKeys,
  recordValues,
  remoteRecords,
  syncRecords,
  valuesAtLimit,
} from './arbitraries.js'
export {
  type CheckConflictResolverOptions,
  ConflictResolverCheckError,
  checkConflictResolver,
  evaluateScenario,
  type MergeScenario,
  mergeScenario,
  type ScenarioOutcome,
} from './check-conflict-resolver.js'
export type { InFlightSync, SimulatedDevice, WaitingPush } from './device.js'
export type {
  AcceptedWrite,
  ConflictDecision,
  Journal,
  SettledWithoutServer,
  SyncProblem,
} from './journal.js'
export {
  type DatasetAddress,
  encodeForChannel,
  PUSH_CHANNELS,
  type PushChannel,
  pushOfDeletion,
  pushOfUpdate,
} from './notifications.js'
export {
  findDivergence,
  findInvalidResolution,
  findOrderDependence,
  findSilentLoss,
  type MergeProperty,
  type PropertyViolation,
} from './properties.js'
export { ServerModel, type UpdateAnswer } from './server-model.js'
export { SIMULATED_DATASET, Simulation, type SimulationOptions } from './simulation.js'
export {
  DEFAULT_STEP_WEIGHTS,
  type DeliveryMode,
  defaultSimulationKeys,
  defaultSimulationValues,
  describeStep,
  deviceName,
  type SimulationStep,
  type StepArbitraryOptions,
  type StepWeights,
  type SyncFault,
  simulationStep,
  simulationSteps,
} from './steps.js'
export { showEntry, showKey, showText, showValue, showView } from './text.js'
export { Trace } from './trace.js'
