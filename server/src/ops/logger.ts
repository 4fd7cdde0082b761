import pino, { type DestinationStream } from 'pino'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

type LogMethod = (fields: object, message?: string) => void

/**
 * What the server logs through: a pino logger, or anything with pino's `(fields, message)`
 * methods. The server logs ids, operation names, statuses, durations and error types; never
 * request bodies, headers, query strings (a SyncSessionToken travels in one), keys or values.
 */
export interface ServerLogger {
  readonly fatal: LogMethod
  readonly error: LogMethod
  readonly warn: LogMethod
  readonly info: LogMethod
  readonly debug: LogMethod
  readonly trace: LogMethod
}

/**
 * Fields that must never be written, whatever a caller passes by mistake: pino replaces them with
 * `[redacted]`. The server itself never logs such fields; this is the second line of defence.
 */
const REDACTED = [
  'authorization',
  'password',
  'secret',
  'secretAccessKey',
  'sessionToken',
  'token',
  'tokenSecret',
  'privateKey',
  'value',
  'values',
]
const REDACT_PATHS = [
  ...REDACTED,
  ...REDACTED.map((name) => `*.${name}`),
  'headers.authorization',
  '*.headers.authorization',
  '*.headers["x-amz-security-token"]',
]

/**
 * A JSON-lines logger at `level`, on stderr by default (stdout carries the command's one
 * `listening on` line). Lines are written synchronously so that the last ones before an exit are
 * not lost.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): pino.Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  )
}

const ignore: LogMethod = () => {}

/** The logger that writes nothing: the embedding API's default, so tests stay quiet. */
export const SILENT_LOGGER: ServerLogger = {
  fatal: ignore,
  error: ignore,
  warn: ignore,
  info: ignore,
  debug: ignore,
  trace: ignore,
}

/** A logger from the `logger` option: a level makes one on stderr, nothing is silence. */
export function resolveLogger(option: ServerLogger | LogLevel | undefined): ServerLogger {
  if (option === undefined || option === 'silent') return SILENT_LOGGER
  return typeof option === 'string' ? createLogger(option) : option
}

/**
 * An error as a log line carries it (under `error`, which no logger serializes again): its name,
 * message, stack and code, and its causes. Nothing else of it: errors of libraries carry request
 * options, connection settings and the like.
 */
export function serializeError(error: unknown, depth = 0): object {
  if (!(error instanceof Error)) return { message: String(error) }
  const code = (error as { code?: unknown }).code
  return {
    type: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(error.cause === undefined || depth >= 3 ? {} : { cause: serializeError(error.cause, depth + 1) }),
  }
}
