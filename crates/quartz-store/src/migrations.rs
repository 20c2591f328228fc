//! Versioned schema migrations, applied in order, each in its own transaction. The schema
//! version is SQLite's `user_version`. Append new versions; never edit a released one.

use rusqlite::Connection;

use crate::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the performer registry and its release history.
    r#"
    CREATE TABLE performers (
        avs_address      TEXT    NOT NULL,
        operator_set_id  INTEGER NOT NULL,
        function_name    TEXT    NOT NULL,
        function_arn     TEXT,
        release_id       INTEGER,
        function_version TEXT,
        image_uri        TEXT,
        artifact_digest  TEXT,
        status           TEXT    NOT NULL,
        revision         INTEGER NOT NULL,
        created_at       TEXT    NOT NULL,
        updated_at       TEXT    NOT NULL,
        PRIMARY KEY (avs_address, operator_set_id)
    ) WITHOUT ROWID;
    CREATE INDEX performers_by_function_name ON performers (function_name);
    CREATE TABLE release_history (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        avs_address      TEXT    NOT NULL,
        operator_set_id  INTEGER NOT NULL,
        release_id       INTEGER NOT NULL,
        artifact_digest  TEXT,
        image_uri        TEXT,
        function_version TEXT,
        deployed_at      TEXT    NOT NULL,
        outcome          TEXT    NOT NULL,
        detail           TEXT
    );
    CREATE INDEX release_history_by_set ON release_history (avs_address, operator_set_id, seq);
    "#,
    // 2: the release monitor: chain checkpoint, recent block hashes for reorg detection, the
    // release outbox the factory consumes, and logs whose operator set could not be resolved.
    r#"
    CREATE TABLE monitor_checkpoints (
        chain_id        INTEGER NOT NULL,
        release_manager TEXT    NOT NULL,
        block_number    INTEGER NOT NULL,
        block_hash      TEXT    NOT NULL,
        head_block      INTEGER,
        target_block    INTEGER,
        polled_at       TEXT,
        updated_at      TEXT    NOT NULL,
        PRIMARY KEY (chain_id, release_manager)
    ) WITHOUT ROWID;
    CREATE TABLE monitor_block_hashes (
        chain_id        INTEGER NOT NULL,
        release_manager TEXT    NOT NULL,
        block_number    INTEGER NOT NULL,
        block_hash      TEXT    NOT NULL,
        PRIMARY KEY (chain_id, release_manager, block_number)
    ) WITHOUT ROWID;
    CREATE TABLE release_outbox (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        chain_id        INTEGER NOT NULL,
        avs_address     TEXT    NOT NULL,
        operator_set_id INTEGER NOT NULL,
        release_id      INTEGER NOT NULL,
        release_manager TEXT    NOT NULL,
        artifacts       TEXT    NOT NULL,
        upgrade_by_time INTEGER NOT NULL,
        source          TEXT    NOT NULL,
        resolved_by     TEXT    NOT NULL,
        block_number    INTEGER,
        block_hash      TEXT,
        tx_hash         TEXT,
        log_index       INTEGER,
        status          TEXT    NOT NULL,
        status_detail   TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        claimed_until   INTEGER,
        created_at      TEXT    NOT NULL,
        updated_at      TEXT    NOT NULL,
        UNIQUE (chain_id, avs_address, operator_set_id, release_id)
    );
    CREATE INDEX release_outbox_by_status ON release_outbox (status, seq);
    CREATE INDEX release_outbox_by_block ON release_outbox (chain_id, release_manager, block_number);
    CREATE TABLE monitor_unresolved_logs (
        chain_id          INTEGER NOT NULL,
        release_manager   TEXT    NOT NULL,
        tx_hash           TEXT    NOT NULL,
        log_index         INTEGER NOT NULL,
        block_number      INTEGER NOT NULL,
        block_hash        TEXT    NOT NULL,
        operator_set_hash TEXT    NOT NULL,
        release_id        INTEGER,
        reason            TEXT    NOT NULL,
        recorded_at       TEXT    NOT NULL,
        PRIMARY KEY (chain_id, release_manager, tx_hash, log_index)
    ) WITHOUT ROWID;
    "#,
    // 3: the local runtime's function definitions: one JSON document per function holding its
    // $LATEST, published versions and aliases, rewritten whole in each mutation's transaction.
    r#"
    CREATE TABLE runtime_functions (
        name       TEXT PRIMARY KEY,
        document   TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 4: the factory's journal: one row per deployment execution (named by avs, operator set and
    // releaseId) with the context its finished steps produced, and one row per step attempt.
    r#"
    CREATE TABLE factory_executions (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT    NOT NULL UNIQUE,
        avs_address     TEXT    NOT NULL,
        operator_set_id INTEGER NOT NULL,
        release_id      INTEGER NOT NULL,
        status          TEXT    NOT NULL,
        current_step    TEXT,
        context         TEXT    NOT NULL,
        error_step      TEXT,
        error_type      TEXT,
        error_message   TEXT,
        started_at      TEXT    NOT NULL,
        updated_at      TEXT    NOT NULL,
        finished_at     TEXT
    );
    CREATE INDEX factory_executions_by_set ON factory_executions (avs_address, operator_set_id, release_id);
    CREATE INDEX factory_executions_by_status ON factory_executions (status, seq);
    CREATE TABLE factory_step_attempts (
        execution_id  TEXT    NOT NULL REFERENCES factory_executions (id),
        step          TEXT    NOT NULL,
        attempt       INTEGER NOT NULL,
        outcome       TEXT    NOT NULL,
        started_at    TEXT    NOT NULL,
        finished_at   TEXT,
        duration_ms   INTEGER,
        error_class   TEXT,
        error_type    TEXT,
        error_message TEXT,
        PRIMARY KEY (execution_id, step, attempt)
    ) WITHOUT ROWID;
    "#,
];

pub(crate) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as u32;
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as u32 + 1;
        let tx = conn
            .transaction()
            .map_err(|source| StoreError::Migration { version, source })?;
        tx.execute_batch(sql)
            .map_err(|source| StoreError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|source| StoreError::Migration { version, source })?;
        tx.commit()
            .map_err(|source| StoreError::Migration { version, source })?;
        tracing::info!(target: "quartz::store", version, "applied schema migration");
    }
    Ok(())
}
