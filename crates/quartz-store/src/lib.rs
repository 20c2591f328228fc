//! The embedded store: one SQLite file in WAL mode.
//!
//! Many readers, one writer: every write runs on a single connection inside an `IMMEDIATE`
//! transaction, so writers never interleave and a transaction either commits whole or not at all.
//! `synchronous = FULL` makes a committed transaction survive a crash of the process or machine.
//! Reads use a small pool of separate connections and never wait for the writer.

mod backend;
mod error;
mod migrations;
mod registry;
mod time_fmt;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use backend::{BackendError, PerformerBackend};
pub use error::StoreError;
pub use registry::{PerformerPage, WriteCondition};
pub use time_fmt::now_rfc3339;

/// The file name of the store inside a data dir.
pub const STORE_FILE: &str = "quartz.db";
const MAX_IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    idle_readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) `quartz.db` in `data_dir` and brings its schema up to date.
    pub fn open_in(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Self::open(&data_dir.join(STORE_FILE))
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        migrations::apply(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                idle_readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in one `IMMEDIATE` write transaction, committed only if `f` returns `Ok`.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(|_| StoreError::Poisoned)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
        .map_err(|_| StoreError::TaskAborted)?
    }

    /// Runs `f` on a read connection, inside a read transaction so that it sees one snapshot.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.checkout_reader()?;
            let result = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
                let value = f(&tx)?;
                tx.finish()?;
                Ok(value)
            })();
            inner.return_reader(conn);
            result
        })
        .await
        .map_err(|_| StoreError::TaskAborted)?
    }

    /// Cheap liveness probe for health endpoints.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|tx| Ok(tx.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }
}

impl Inner {
    fn checkout_reader(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle_readers.lock().map_err(|_| StoreError::Poisoned)?.pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure(&conn)?;
        Ok(conn)
    }

    fn return_reader(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle_readers.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    // Another process (a CLI command beside `quartz up`) may hold the write lock briefly.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}
