import type { SqlDialect } from './dialect.js'

/**
 * Every statement of the SQL stores, written once with `?` placeholders: the PostgreSQL connection
 * numbers them (`$1`...) and the SQLite one binds them as they are. Row values are compared with
 * `CAST(? AS BIGINT)` where PostgreSQL could not infer a parameter's type.
 *
 * A statement with `batch` is a one-row INSERT that PostgreSQL runs for a whole batch at once: its
 * `VALUES (?, ...)` becomes `SELECT * FROM unnest(?::type[], ...)`, one array per column, of these
 * types. A statement with `list` ends with a `= ?` that PostgreSQL compares with `= ANY` of an
 * array of that type.
 */
export interface StatementSpec {
  readonly sql: string
  readonly batch?: readonly SqlType[]
  readonly list?: SqlType
}

export type SqlType = 'text' | 'bigint' | 'integer'

const DATASET_COLUMNS = `identity_id, name, identity_pool_id, sync_count, dataset_exists, deleted_at_sync_count,
  creation_date, last_modified_date, last_modified_by, num_records, data_storage, merged_into`
const RECORD_COLUMNS =
  'key, value, sync_count, last_modified_date, last_modified_by, device_last_modified_date'
const DEVICE_COLUMNS = 'device_id, identity_pool_id, identity_id, platform, token, created_at'
const POOL_COLUMNS = `identity_pool_id, push_sync, cognito_streams, events, bulk_publish_status,
  bulk_publish_start_time, bulk_publish_complete_time, bulk_publish_failure_message`
const OUTBOX_COLUMNS =
  'device_id, dataset, identity_pool_id, identity_id, sync_count, attempts, not_before, expires_at, queued_at'
const USAGE_COLUMNS = `COUNT(*) AS dataset_count, COALESCE(SUM(data_storage), 0) AS data_storage,
  MAX(last_modified_date) AS last_modified_date`
// A moved or rewritten record replaces the row of its key.
const RECORD_UPSERT = `ON CONFLICT (identity_id, dataset, key) DO UPDATE SET value = excluded.value,
  sync_count = excluded.sync_count, last_modified_date = excluded.last_modified_date,
  last_modified_by = excluded.last_modified_by, device_last_modified_date = excluded.device_last_modified_date`

const NEW_STREAM_COLUMNS =
  'identity_pool_id, identity_id, dataset, sync_count, payload, attempts, not_before, expires_at, queued_at'
const STREAM_COLUMNS = `id, ${NEW_STREAM_COLUMNS}`
/** The row is its identity's oldest: the only one of the identity that may go out now. */
const STREAM_HEAD = 'o.id = (SELECT MIN(e.id) FROM stream_outbox e WHERE e.identity_id = o.identity_id)'

/**
 * The advisory locks that make a process's outbox claims: two-key locks in this space, the second
 * key being the claim holder. `pg_locks` shows such a lock with `classid` = space, `objid` = holder
 * and `objsubid` = 2; the materialized list is read once per statement.
 */
export const CLAIM_LOCK_SPACE = 0x70757368 // "push"
const LIVE_HOLDERS = `live AS MATERIALIZED (
  SELECT objid::bigint AS holder FROM pg_locks
  WHERE locktype = 'advisory' AND classid = ${CLAIM_LOCK_SPACE} AND objsubid = 2 AND granted
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)`
/** A row this process may take: nobody holds it, it holds it already, or its holder is gone. */
const CLAIMABLE =
  '(claim_holder IS NULL OR claim_holder = ? OR claim_holder NOT IN (SELECT holder FROM live))'

export function statements(d: SqlDialect) {
  return {
    getSetting: 'SELECT value FROM settings WHERE name = ?',
    putSetting:
      'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',

    getIdentity:
      'SELECT identity_id, identity_pool_id, created_at, merged_into FROM identities WHERE identity_id = ?',
    putIdentity: `INSERT INTO identities (identity_id, identity_pool_id, created_at, merged_into) VALUES (?, ?, ?, ?)
      ON CONFLICT (identity_id) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
        created_at = excluded.created_at, merged_into = excluded.merged_into`,
    findLogin: `SELECT identity_pool_id, provider, subject, identity_id FROM logins
      WHERE identity_pool_id = ? AND provider = ? AND subject = ?`,
    putLogin: `INSERT INTO logins (identity_pool_id, provider, subject, identity_id) VALUES (?, ?, ?, ?)
      ON CONFLICT (identity_pool_id, provider, subject) DO UPDATE SET identity_id = excluded.identity_id`,
    poolHasIdentities: 'SELECT 1 AS one FROM identities WHERE identity_pool_id = ? LIMIT 1',
    listPoolIds: 'SELECT DISTINCT identity_pool_id FROM identities ORDER BY identity_pool_id LIMIT ?',
    listPoolIdsAfter: `SELECT DISTINCT identity_pool_id FROM identities WHERE identity_pool_id > ?
      ORDER BY identity_pool_id LIMIT ?`,

    getDataset: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = ? AND name = ?`,
    putDataset: `INSERT INTO datasets (${DATASET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (identity_id, name) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
        sync_count = excluded.sync_count, dataset_exists = excluded.dataset_exists,
        deleted_at_sync_count = excluded.deleted_at_sync_count, creation_date = excluded.creation_date,
        last_modified_date = excluded.last_modified_date, last_modified_by = excluded.last_modified_by,
        num_records = excluded.num_records, data_storage = excluded.data_storage, merged_into = excluded.merged_into`,
    listDatasets: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = ? AND dataset_exists = ?
      ORDER BY name LIMIT ?`,
    listDatasetsAfter: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_id = ? AND dataset_exists = ? AND name > ?
      ORDER BY name LIMIT ?`,
    listPoolDatasets: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_pool_id = ? AND dataset_exists = ?
      ORDER BY identity_id, name LIMIT ?`,
    listPoolDatasetsAfter: `SELECT ${DATASET_COLUMNS} FROM datasets WHERE identity_pool_id = ? AND dataset_exists = ?
        AND (identity_id, name) > (?, ?)
      ORDER BY identity_id, name LIMIT ?`,
    listMergedDatasetNames: `SELECT name FROM datasets WHERE identity_id = ? AND dataset_exists = ? AND merged_into = ?
      ORDER BY name`,
    identityUsage: `SELECT ${USAGE_COLUMNS} FROM datasets WHERE identity_id = ? AND dataset_exists = ?`,
    poolUsage: `SELECT ${USAGE_COLUMNS} FROM datasets WHERE identity_pool_id = ? AND dataset_exists = ?`,

    getRecords: {
      sql: `SELECT ${RECORD_COLUMNS} FROM records WHERE identity_id = ? AND dataset = ? AND key = ?`,
      list: 'text',
    },
    listRecords: `SELECT ${RECORD_COLUMNS} FROM records WHERE identity_id = ? AND dataset = ? AND sync_count > ?
      ORDER BY sync_count, key LIMIT ?`,
    // A row value comparison, so the index range starts at the cursor instead of filtering up to it.
    listRecordsAfter: `SELECT ${RECORD_COLUMNS} FROM records
      WHERE identity_id = ? AND dataset = ? AND (sync_count, key) > (CAST(? AS BIGINT), ?)
      ORDER BY sync_count, key LIMIT ?`,
    putRecords: {
      sql: `INSERT INTO records (identity_id, dataset, ${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ${RECORD_UPSERT}`,
      batch: ['text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'bigint'],
    },
    deleteAllRecords: 'DELETE FROM records WHERE identity_id = ? AND dataset = ?',
    copyRecords: `INSERT INTO records (identity_id, dataset, ${RECORD_COLUMNS})
      SELECT ?, ?, ${RECORD_COLUMNS} FROM records WHERE identity_id = ? AND dataset = ?
      ${RECORD_UPSERT}`,

    getDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = ?`,
    findDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE identity_id = ? AND platform = ? AND token = ?`,
    putDevice: `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (device_id) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
        identity_id = excluded.identity_id, platform = excluded.platform, token = excluded.token,
        created_at = excluded.created_at`,
    deleteDevice: 'DELETE FROM devices WHERE device_id = ?',
    putSubscription:
      'INSERT INTO subscriptions (identity_id, dataset, device_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    deleteSubscription: 'DELETE FROM subscriptions WHERE identity_id = ? AND dataset = ? AND device_id = ?',
    listSubscribedDevices: `SELECT d.device_id, d.identity_pool_id, d.identity_id, d.platform, d.token, d.created_at
      FROM subscriptions s JOIN devices d ON d.device_id = s.device_id
      WHERE s.identity_id = ? AND s.dataset = ? ORDER BY d.device_id`,

    isSessionSpent: 'SELECT token_id FROM spent_sessions WHERE token_id = ?',
    spendSession: `INSERT INTO spent_sessions (token_id, expires_at) VALUES (?, ?)
      ON CONFLICT (token_id) DO UPDATE SET expires_at = excluded.expires_at`,
    // A token expiring exactly now may still be accepted by a `now <= expiry` check: only entries
    // strictly in the past go. The expiry index finds them.
    pruneSpentSessions: 'DELETE FROM spent_sessions WHERE expires_at < ?',

    getPool: `SELECT ${POOL_COLUMNS} FROM pools WHERE identity_pool_id = ?`,
    // A new row starts the legacy session count at 0; the configuration never touches it.
    putPool: `INSERT INTO pools (${POOL_COLUMNS}, sync_sessions_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
      ON CONFLICT (identity_pool_id) DO UPDATE SET push_sync = excluded.push_sync,
        cognito_streams = excluded.cognito_streams, events = excluded.events,
        bulk_publish_status = excluded.bulk_publish_status,
        bulk_publish_start_time = excluded.bulk_publish_start_time,
        bulk_publish_complete_time = excluded.bulk_publish_complete_time,
        bulk_publish_failure_message = excluded.bulk_publish_failure_message`,
    // One identity's row: the lock it takes (PostgreSQL) is the identity's, which its transaction
    // holds already.
    countSyncSession: `INSERT INTO sync_session_counts (identity_pool_id, identity_id, sessions) VALUES (?, ?, 1)
      ON CONFLICT (identity_pool_id, identity_id) DO UPDATE SET sessions = sync_session_counts.sessions + 1`,
    syncSessionsCount: `SELECT
        COALESCE((SELECT SUM(sessions) FROM sync_session_counts WHERE identity_pool_id = ?), 0)
        + COALESCE((SELECT sync_sessions_count FROM pools WHERE identity_pool_id = ?), 0) AS sessions`,

    // Coalescing: a pending row is replaced only by a newer change of its dataset, which releases
    // the claim on the older one (the newer change is for any dispatcher to deliver) and keeps the
    // time the first one was queued.
    putOutbox: {
      sql: `INSERT INTO outbox (${OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (device_id, dataset) DO UPDATE SET identity_pool_id = excluded.identity_pool_id,
          identity_id = excluded.identity_id, sync_count = excluded.sync_count, attempts = excluded.attempts,
          not_before = excluded.not_before, expires_at = excluded.expires_at, claim_holder = NULL,
          queued_at = ${d.least('outbox.queued_at', 'excluded.queued_at')}
        WHERE excluded.sync_count > outbox.sync_count`,
      batch: ['text', 'text', 'text', 'text', 'bigint', 'integer', 'bigint', 'bigint', 'bigint'],
    },
    dueOutbox: `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE not_before <= ?
      ORDER BY not_before, device_id, dataset LIMIT ?`,
    nextOutboxTime: 'SELECT MIN(not_before) AS next FROM outbox',
    // Claims the due rows this process may take: rows a concurrent claim or change is locking
    // right now are skipped, not waited for.
    claimDueOutbox: `WITH ${LIVE_HOLDERS}, due AS (
        SELECT device_id, dataset FROM outbox
        WHERE not_before <= ? AND ${CLAIMABLE}
        ORDER BY not_before, device_id, dataset LIMIT ?
        FOR UPDATE OF outbox SKIP LOCKED
      ), claimed AS (
        UPDATE outbox o SET claim_holder = ?
        FROM due WHERE o.device_id = due.device_id AND o.dataset = due.dataset
        RETURNING ${OUTBOX_COLUMNS.replace(/(\w+)/g, 'o.$1')}
      )
      SELECT ${OUTBOX_COLUMNS} FROM claimed ORDER BY not_before, device_id, dataset`,
    // The earliest row this process may take, and whether a live process holds any.
    nextClaimableOutboxTime: `WITH ${LIVE_HOLDERS}
      SELECT MIN(not_before) FILTER (WHERE ${CLAIMABLE}) AS next,
        COUNT(*) FILTER (WHERE NOT ${CLAIMABLE}) AS held
      FROM outbox`,
    deleteOutbox: 'DELETE FROM outbox WHERE device_id = ? AND dataset = ? AND sync_count = ?',
    // A retry is for whichever process finds it due next.
    rescheduleOutbox: `UPDATE outbox SET attempts = ?, not_before = ?, claim_holder = NULL
      WHERE device_id = ? AND dataset = ? AND sync_count = ?`,
    getPushEndpoint:
      'SELECT device_id, application_arn, endpoint_arn FROM push_endpoints WHERE device_id = ?',
    putPushEndpoint: `INSERT INTO push_endpoints (device_id, application_arn, endpoint_arn) VALUES (?, ?, ?)
      ON CONFLICT (device_id) DO UPDATE SET application_arn = excluded.application_arn,
        endpoint_arn = excluded.endpoint_arn`,
    deletePushEndpoint: 'DELETE FROM push_endpoints WHERE device_id = ? AND endpoint_arn = ?',

    putStreamOutbox: {
      sql: `INSERT INTO stream_outbox (${NEW_STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      batch: ['text', 'text', 'text', 'bigint', 'text', 'integer', 'bigint', 'bigint', 'bigint'],
    },
    dueStreamOutbox: `SELECT ${STREAM_COLUMNS} FROM stream_outbox o WHERE o.not_before <= ? AND ${STREAM_HEAD}
      ORDER BY o.id LIMIT ?`,
    nextStreamOutboxTime: `SELECT MIN(o.not_before) AS next FROM stream_outbox o WHERE ${STREAM_HEAD}`,
    claimDueStreamOutbox: `WITH ${LIVE_HOLDERS}, due AS (
        SELECT o.id FROM stream_outbox o
        WHERE o.not_before <= ? AND ${CLAIMABLE} AND ${STREAM_HEAD}
        ORDER BY o.id LIMIT ?
        FOR UPDATE OF o SKIP LOCKED
      ), claimed AS (
        UPDATE stream_outbox s SET claim_holder = ?
        FROM due WHERE s.id = due.id
        RETURNING ${STREAM_COLUMNS.replace(/(\w+)/g, 's.$1')}
      )
      SELECT ${STREAM_COLUMNS} FROM claimed ORDER BY id`,
    nextClaimableStreamOutboxTime: `WITH ${LIVE_HOLDERS}, heads AS (
        SELECT o.not_before, o.claim_holder FROM stream_outbox o WHERE ${STREAM_HEAD}
      )
      SELECT MIN(not_before) FILTER (WHERE ${CLAIMABLE}) AS next,
        COUNT(*) FILTER (WHERE NOT ${CLAIMABLE}) AS held
      FROM heads`,
    deleteStreamOutbox: 'DELETE FROM stream_outbox WHERE id = ?',
    rescheduleStreamOutbox:
      'UPDATE stream_outbox SET attempts = ?, not_before = ?, claim_holder = NULL WHERE id = ?',
    countStreamOutbox: 'SELECT COUNT(*) AS count FROM stream_outbox',

    countOutbox: 'SELECT COUNT(*) AS count FROM outbox',
    outboxSummary: 'SELECT COUNT(*) AS rows, MIN(queued_at) AS oldest FROM outbox',
  } satisfies Record<string, string | StatementSpec>
}

export type Statements = ReturnType<typeof statements>
export type StatementName = keyof Statements

/** A statement's spec, whether written as bare SQL or with batch or list types. */
export function specOf(statement: string | StatementSpec): StatementSpec {
  return typeof statement === 'string' ? { sql: statement } : statement
}
