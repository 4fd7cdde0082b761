import type { SqlDialect } from './dialect.js'

/**
 * The schema of both SQL stores, one entry per version; a database at version N runs entries N+1..
 * on open. Append only: an applied migration never changes.
 *
 * Written once for both dialects. Keys, ids and names are `d.key` text: SQLite's BINARY collation,
 * and PostgreSQL's "C" collation, so both sort by code point (UTF-8 byte order) whatever the
 * database's default. Counts and times are BIGINT; the one flag is `d.boolean`.
 */
export function migrations(d: SqlDialect): readonly (readonly string[])[] {
  const key = d.keyType
  return [
    [
      `CREATE TABLE settings (
        name ${key} PRIMARY KEY,
        value TEXT NOT NULL
      )`,
      `CREATE TABLE identities (
        identity_id ${key} PRIMARY KEY,
        identity_pool_id ${key} NOT NULL,
        created_at BIGINT NOT NULL,
        merged_into ${key}
      )`,
      'CREATE INDEX identities_by_pool ON identities (identity_pool_id)',
      `CREATE TABLE logins (
        identity_pool_id ${key} NOT NULL,
        provider ${key} NOT NULL,
        subject ${key} NOT NULL,
        identity_id ${key} NOT NULL,
        PRIMARY KEY (identity_pool_id, provider, subject)
      )`,
      `CREATE TABLE datasets (
        identity_id ${key} NOT NULL,
        name ${key} NOT NULL,
        identity_pool_id ${key} NOT NULL,
        sync_count BIGINT NOT NULL,
        dataset_exists ${d.booleanType} NOT NULL,
        deleted_at_sync_count BIGINT NOT NULL,
        creation_date BIGINT NOT NULL,
        last_modified_date BIGINT NOT NULL,
        last_modified_by TEXT,
        num_records BIGINT NOT NULL,
        data_storage BIGINT NOT NULL,
        merged_into ${key},
        PRIMARY KEY (identity_id, name)
      )`,
      // Pool usage and bulk publish read a pool's datasets in (identity_id, name) order.
      'CREATE INDEX datasets_by_pool ON datasets (identity_pool_id, identity_id, name)',
      `CREATE TABLE records (
        identity_id ${key} NOT NULL,
        dataset ${key} NOT NULL,
        key ${key} NOT NULL,
        value TEXT,
        sync_count BIGINT NOT NULL,
        last_modified_date BIGINT NOT NULL,
        last_modified_by TEXT,
        device_last_modified_date BIGINT,
        PRIMARY KEY (identity_id, dataset, key)
      )`,
      // ListRecords reads a dataset's records above a sync count in (sync_count, key) order.
      'CREATE INDEX records_by_sync_count ON records (identity_id, dataset, sync_count, key)',
      `CREATE TABLE devices (
        device_id ${key} PRIMARY KEY,
        identity_pool_id ${key} NOT NULL,
        identity_id ${key} NOT NULL,
        platform ${key} NOT NULL,
        token ${key} NOT NULL,
        created_at BIGINT NOT NULL,
        UNIQUE (identity_id, platform, token)
      )`,
      // The cascade is what makes deleting a device drop its subscriptions.
      `CREATE TABLE subscriptions (
        identity_id ${key} NOT NULL,
        dataset ${key} NOT NULL,
        device_id ${key} NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
        PRIMARY KEY (identity_id, dataset, device_id)
      )`,
      'CREATE INDEX subscriptions_by_device ON subscriptions (device_id)',
      `CREATE TABLE spent_sessions (
        token_id ${key} PRIMARY KEY,
        expires_at BIGINT NOT NULL
      )`,
      // Pruning finds the expired tokens through it instead of reading them all.
      'CREATE INDEX spent_sessions_by_expiry ON spent_sessions (expires_at)',
      `CREATE TABLE pools (
        identity_pool_id ${key} PRIMARY KEY,
        push_sync TEXT,
        cognito_streams TEXT,
        events TEXT,
        sync_sessions_count BIGINT NOT NULL,
        bulk_publish_status TEXT NOT NULL,
        bulk_publish_start_time BIGINT,
        bulk_publish_complete_time BIGINT,
        bulk_publish_failure_message TEXT
      )`,
    ],
    // Push delivery: one pending push per (device, dataset). No foreign key to devices: a row of a
    // deleted device is dropped when it comes due, which keeps device deletion a single statement.
    // PostgreSQL's rows also carried a lease-based claim, replaced in version 4.
    [
      `CREATE TABLE outbox (
        device_id ${key} NOT NULL,
        dataset ${key} NOT NULL,
        identity_pool_id ${key} NOT NULL,
        identity_id ${key} NOT NULL,
        sync_count BIGINT NOT NULL,
        attempts INTEGER NOT NULL,
        not_before BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        ${d.name === 'postgres' ? 'claimed_by TEXT, claimed_until BIGINT,' : ''}
        PRIMARY KEY (device_id, dataset)
      )`,
      // The dispatcher reads due rows in (not_before, device_id, dataset) order.
      'CREATE INDEX outbox_by_time ON outbox (not_before, device_id, dataset)',
    ],
    // When each pending push was first queued, for the outbox's age. Rows already waiting get their
    // enqueue time back from the expiry (queue time + TTL, of the default TTL), unless that is later
    // than their not_before, which for a row never retried is the enqueue time itself.
    [
      'ALTER TABLE outbox ADD COLUMN queued_at BIGINT NOT NULL DEFAULT 0',
      `UPDATE outbox SET queued_at = ${d.least('not_before', 'expires_at - 86400000')}`,
      ...(d.name === 'postgres' ? ['ALTER TABLE outbox ALTER COLUMN queued_at DROP DEFAULT'] : []),
    ],
    // Sync sessions counted per identity, so that writers of different identities never update one
    // row (the pool's count, kept for the sessions counted before, stays as their base). Outbox
    // claims held by a process's connection instead of a lease: `claim_holder` names the advisory
    // lock of the claiming process, and the claim lives exactly as long as that lock.
    [
      `CREATE TABLE sync_session_counts (
        identity_pool_id ${key} NOT NULL,
        identity_id ${key} NOT NULL,
        sessions BIGINT NOT NULL,
        PRIMARY KEY (identity_pool_id, identity_id)
      )`,
      ...(d.name === 'postgres'
        ? ['ALTER TABLE outbox DROP COLUMN claimed_by', 'ALTER TABLE outbox DROP COLUMN claimed_until']
        : []),
      'ALTER TABLE outbox ADD COLUMN claim_holder BIGINT',
    ],
    // Amazon SNS delivery and Cognito Streams. A device's SNS endpoint goes with the device. Stream
    // records are kept in commit order (`id`) and sent one identity's after another; PostgreSQL's
    // rows are claimed like the push outbox's. New tables only, so written to be run again safely.
    [
      `CREATE TABLE IF NOT EXISTS push_endpoints (
        device_id ${key} PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
        application_arn TEXT NOT NULL,
        endpoint_arn TEXT NOT NULL
      )`,
      `CREATE TABLE IF NOT EXISTS stream_outbox (
        id ${d.name === 'postgres' ? 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'},
        identity_pool_id ${key} NOT NULL,
        identity_id ${key} NOT NULL,
        dataset ${key} NOT NULL,
        sync_count BIGINT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        not_before BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        queued_at BIGINT NOT NULL,
        claim_holder BIGINT
      )`,
      // An identity's oldest row is found through it.
      'CREATE INDEX IF NOT EXISTS stream_outbox_by_identity ON stream_outbox (identity_id, id)',
    ],
  ]
}

/** The schema version this code writes; `schema_version` holds one row per applied migration. */
export const SCHEMA_VERSION = 5
