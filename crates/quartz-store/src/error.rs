use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration to schema version {version} failed: {source}")]
    Migration { version: u32, source: rusqlite::Error },
    #[error("the store's schema version {found} is newer than this build knows ({known}); upgrade quartz")]
    SchemaTooNew { found: u32, known: u32 },
    #[error("revision mismatch: expected {expected}, found {}", found.map_or("no entry".to_string(), |r| r.to_string()))]
    RevisionMismatch { expected: u64, found: Option<u64> },
    #[error("stored value in {column} is not valid: {reason}")]
    Corrupt { column: &'static str, reason: String },
    #[error("the store's writer lock was poisoned by a panic")]
    Poisoned,
    #[error("the store task was aborted")]
    TaskAborted,
}
