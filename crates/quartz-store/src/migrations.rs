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
];

pub(crate) fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as u32;
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as u32 + 1;
        let tx = conn.transaction().map_err(|source| StoreError::Migration { version, source })?;
        tx.execute_batch(sql).map_err(|source| StoreError::Migration { version, source })?;
        tx.pragma_update(None, "user_version", version).map_err(|source| StoreError::Migration { version, source })?;
        tx.commit().map_err(|source| StoreError::Migration { version, source })?;
        tracing::info!(target: "quartz::store", version, "applied schema migration");
    }
    Ok(())
}
