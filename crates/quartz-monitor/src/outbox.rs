//! The release outbox: what the monitor hands to the factory. One row per
//! (chain id, avs, operator set id, releaseId) — the idempotency key — so a release can be
//! written any number of times (rescans, restarts, reconciliation) and is delivered once.
//!
//! Life of a row: `pending` → `claimed` (a factory holds a lease) → `deployed` | `failed`.
//! A pending or claimed release whose log is reorged away becomes `cancelled`; if the log comes
//! back (or reconciliation finds it on chain) it is `pending` again.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256};
use quartz_core::{Artifact, OperatorSet, Release};
use quartz_store::{Store, StoreError, now_rfc3339};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::Serialize;

use crate::MonitorError;
use crate::error::corrupt;

/// The idempotency key of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxKey {
    pub chain_id: u64,
    pub operator_set: OperatorSet,
    pub release_id: u64,
}

impl fmt::Display for OutboxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chain {} {} release {}",
            self.chain_id, self.operator_set, self.release_id
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStatus {
    Pending,
    Claimed,
    Deployed,
    Failed,
    Cancelled,
}

impl ReleaseStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Claimed,
        Self::Deployed,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Claimed => "claimed",
            Self::Deployed => "deployed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl fmt::Display for ReleaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the operator set of a release was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedBy {
    /// topic1 matched the hash of a watched or known operator set.
    Table,
    /// The transaction was a direct `publishRelease` call.
    Input,
    /// An inner `publishRelease` call found in the transaction's call trace.
    Trace,
    /// Not from a log: reconciliation read it with `getLatestRelease`.
    Reconcile,
}

impl ResolvedBy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Input => "input",
            Self::Trace => "trace",
            Self::Reconcile => "reconcile",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::Table, Self::Input, Self::Trace, Self::Reconcile]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// Where a release's log is on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLocation {
    pub block_number: u64,
    pub block_hash: B256,
    pub tx_hash: B256,
    pub log_index: u64,
}

/// One row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    pub seq: i64,
    pub key: OutboxKey,
    pub release: Release,
    pub release_manager: Address,
    pub resolved_by: ResolvedBy,
    /// `None` for releases that reconciliation enqueued before their log was scanned.
    pub location: Option<LogLocation>,
    pub status: ReleaseStatus,
    pub status_detail: Option<String>,
    /// How many times a factory claimed it.
    pub attempts: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// How a factory finished a claimed release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Deployed,
    Failed { detail: String },
}

/// The factory's view of the outbox.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
}

impl Outbox {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Claims the oldest pending release (or one whose claim lease ran out, because the
    /// factory holding it died) for `lease`. Deployments are named after the key, so a release
    /// claimed again after a crash resumes rather than deploys twice.
    pub async fn claim_next(&self, lease: Duration) -> Result<Option<OutboxEntry>, MonitorError> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        Ok(self
            .store
            .write(move |tx| {
                let now = now_ms();
                let seq: Option<i64> = tx
                    .query_row(
                        "SELECT seq FROM release_outbox
                         WHERE status = 'pending' OR (status = 'claimed' AND claimed_until < ?1)
                         ORDER BY seq LIMIT 1",
                        params![now],
                        |row| row.get(0),
                    )
                    .optional()?;
                let Some(seq) = seq else { return Ok(None) };
                tx.execute(
                    "UPDATE release_outbox SET status = 'claimed', claimed_until = ?2, attempts = attempts + 1,
                         updated_at = ?3 WHERE seq = ?1",
                    params![seq, now.saturating_add(lease_ms), now_rfc3339()],
                )?;
                entry_by_seq(tx, seq)
            })
            .await?)
    }

    /// Extends the lease of a release this factory still holds, so that a long deployment
    /// keeps it while a crashed factory's claim runs out soon. Returns false when the release
    /// is no longer claimed (it was cancelled by a reorg).
    pub async fn renew(&self, key: OutboxKey, lease: Duration) -> Result<bool, MonitorError> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        Ok(self
            .store
            .write(move |tx| {
                let Some(entry) = entry_by_key(tx, &key)? else {
                    return Ok(false);
                };
                if entry.status != ReleaseStatus::Claimed {
                    return Ok(false);
                }
                tx.execute(
                    "UPDATE release_outbox SET claimed_until = ?2 WHERE seq = ?1",
                    params![entry.seq, now_ms().saturating_add(lease_ms)],
                )?;
                Ok(true)
            })
            .await?)
    }

    /// Records the end of a claimed release. Fails with [`MonitorError::NotClaimed`] when the
    /// release was cancelled meanwhile (its log was reorged away) or was never claimed.
    pub async fn complete(&self, key: OutboxKey, completion: Completion) -> Result<(), MonitorError> {
        self.transition(key, move |status| match status {
            ReleaseStatus::Claimed => Ok(match &completion {
                Completion::Deployed => (ReleaseStatus::Deployed, None),
                Completion::Failed { detail } => (ReleaseStatus::Failed, Some(detail.clone())),
            }),
            other => Err(other),
        })
        .await
    }

    /// Gives a claimed release back, to be claimed again (e.g. on a clean shutdown).
    pub async fn unclaim(&self, key: OutboxKey) -> Result<(), MonitorError> {
        self.transition(key, |status| match status {
            ReleaseStatus::Claimed => Ok((ReleaseStatus::Pending, None)),
            other => Err(other),
        })
        .await
    }

    async fn transition<F>(&self, key: OutboxKey, decide: F) -> Result<(), MonitorError>
    where
        F: FnOnce(ReleaseStatus) -> Result<(ReleaseStatus, Option<String>), ReleaseStatus> + Send + 'static,
    {
        self.store
            .write(move |tx| {
                let Some(entry) = entry_by_key(tx, &key)? else {
                    return Ok(Err(MonitorError::UnknownRelease { key: key.to_string() }));
                };
                match decide(entry.status) {
                    Ok((status, detail)) => {
                        tx.execute(
                            "UPDATE release_outbox SET status = ?2, status_detail = ?3, claimed_until = NULL,
                                 updated_at = ?4 WHERE seq = ?1",
                            params![entry.seq, status.as_str(), detail, now_rfc3339()],
                        )?;
                        Ok(Ok(()))
                    }
                    Err(status) => Ok(Err(MonitorError::NotClaimed {
                        key: key.to_string(),
                        status: status.to_string(),
                    })),
                }
            })
            .await?
    }

    pub async fn get(&self, key: OutboxKey) -> Result<Option<OutboxEntry>, MonitorError> {
        Ok(self.store.read(move |tx| entry_by_key(tx, &key)).await?)
    }

    /// Entries in outbox order, optionally of one status only.
    pub async fn list(&self, status: Option<ReleaseStatus>, limit: usize) -> Result<Vec<OutboxEntry>, MonitorError> {
        Ok(self
            .store
            .read(move |tx| {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM release_outbox WHERE (?1 IS NULL OR status = ?1) ORDER BY seq LIMIT ?2"
                ))?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                stmt.query_map(params![status.map(|s| s.as_str()), limit], |row| {
                    Ok(entry_from_row(row))
                })?
                .collect::<Result<Result<Vec<_>, _>, _>>()?
            })
            .await?)
    }
}

pub(crate) const COLUMNS: &str = "seq, chain_id, avs_address, operator_set_id, release_id, release_manager, artifacts, \
     upgrade_by_time, resolved_by, block_number, block_hash, tx_hash, log_index, status, status_detail, attempts, \
     created_at, updated_at";

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn entry_by_seq(tx: &Transaction<'_>, seq: i64) -> Result<Option<OutboxEntry>, StoreError> {
    let mut stmt = tx.prepare_cached(&format!("SELECT {COLUMNS} FROM release_outbox WHERE seq = ?1"))?;
    stmt.query_row(params![seq], |row| Ok(entry_from_row(row)))
        .optional()?
        .transpose()
}

pub(crate) fn entry_by_key(tx: &Transaction<'_>, key: &OutboxKey) -> Result<Option<OutboxEntry>, StoreError> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM release_outbox
         WHERE chain_id = ?1 AND avs_address = ?2 AND operator_set_id = ?3 AND release_id = ?4"
    ))?;
    stmt.query_row(
        params![
            sql_u64(key.chain_id)?,
            key.operator_set.avs.to_string(),
            key.operator_set.id,
            sql_u64(key.release_id)?
        ],
        |row| Ok(entry_from_row(row)),
    )
    .optional()?
    .transpose()
}

pub(crate) fn sql_u64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| corrupt("integer", format!("{value} exceeds i64")))
}

fn row_u64(row: &Row<'_>, index: usize, column: &'static str) -> Result<u64, StoreError> {
    let value: i64 = row.get(index)?;
    u64::try_from(value).map_err(|e| corrupt(column, e))
}

fn parse<T: std::str::FromStr>(column: &'static str, value: &str) -> Result<T, StoreError>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|e: T::Err| corrupt(column, e))
}

pub(crate) fn entry_from_row(row: &Row<'_>) -> Result<OutboxEntry, StoreError> {
    let avs: String = row.get(2)?;
    let operator_set = OperatorSet::new(parse("avs_address", &avs)?, row.get(3)?);
    let artifacts: String = row.get(6)?;
    let artifacts: Vec<Artifact> = serde_json::from_str(&artifacts).map_err(|e| corrupt("artifacts", e))?;
    let release_id = row_u64(row, 4, "release_id")?;
    let resolved_by: String = row.get(8)?;
    let status: String = row.get(13)?;
    let block_number: Option<i64> = row.get(9)?;
    let location = match block_number {
        Some(number) => Some(LogLocation {
            block_number: u64::try_from(number).map_err(|e| corrupt("block_number", e))?,
            block_hash: parse("block_hash", &row.get::<_, String>(10)?)?,
            tx_hash: parse("tx_hash", &row.get::<_, String>(11)?)?,
            log_index: row_u64(row, 12, "log_index")?,
        }),
        None => None,
    };
    Ok(OutboxEntry {
        seq: row.get(0)?,
        key: OutboxKey {
            chain_id: row_u64(row, 1, "chain_id")?,
            operator_set,
            release_id,
        },
        release: Release {
            operator_set,
            release_id,
            artifacts,
            upgrade_by_time: u32::try_from(row.get::<_, i64>(7)?).map_err(|e| corrupt("upgrade_by_time", e))?,
        },
        release_manager: parse("release_manager", &row.get::<_, String>(5)?)?,
        resolved_by: ResolvedBy::parse(&resolved_by).ok_or_else(|| corrupt("resolved_by", resolved_by))?,
        location,
        status: ReleaseStatus::parse(&status).ok_or_else(|| corrupt("status", status))?,
        status_detail: row.get(14)?,
        attempts: u32::try_from(row.get::<_, i64>(15)?).map_err(|e| corrupt("attempts", e))?,
        created_at: row.get(16)?,
        updated_at: row.get(17)?,
    })
}
