//! The monitor's writes: checkpoint, recent block hashes, outbox rows and unresolved logs.
//! Every function takes the caller's transaction, so a batch of releases and the checkpoint
//! that covers them commit together or not at all.

use alloy::primitives::{Address, B256};
use quartz_core::{OperatorSet, Release};
use quartz_store::{StoreError, now_rfc3339};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::error::corrupt;
use crate::outbox::{COLUMNS, OutboxKey};
use crate::outbox::{LogLocation, OutboxEntry, ReleaseStatus, ResolvedBy, entry_by_key, entry_from_row, sql_u64};

/// Which chain and contract a checkpoint belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope {
    pub chain_id: u64,
    pub release_manager: Address,
}

impl Scope {
    fn params(&self) -> Result<(i64, String), StoreError> {
        Ok((sql_u64(self.chain_id)?, self.release_manager.to_string().to_lowercase()))
    }
}

/// Every block up to and including `number` has been scanned; `hash` is that block's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub number: u64,
    pub hash: B256,
}

/// A release decoded from a log with its operator set resolved.
#[derive(Debug, Clone)]
pub(crate) struct FoundRelease {
    pub release: Release,
    pub resolved_by: ResolvedBy,
    pub location: LogLocation,
}

/// A log whose operator set could not be determined; kept for `quartz status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnresolvedLog {
    pub location: LogLocation,
    pub operator_set_hash: B256,
    pub release_id: Option<u64>,
    pub reason: String,
    pub recorded_at: String,
}

/// What a batch did to the outbox, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub enqueued: u64,
    pub revived: u64,
    pub duplicate: u64,
}

fn parse_hash(column: &'static str, value: &str) -> Result<B256, StoreError> {
    value.parse().map_err(|e| corrupt(column, e))
}

fn to_u64(column: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|e| corrupt(column, e))
}

pub(crate) fn load_checkpoint(tx: &Transaction<'_>, scope: Scope) -> Result<Option<Checkpoint>, StoreError> {
    let (chain, rm) = scope.params()?;
    let row: Option<(i64, String)> = tx
        .query_row(
            "SELECT block_number, block_hash FROM monitor_checkpoints WHERE chain_id = ?1 AND release_manager = ?2",
            params![chain, rm],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    row.map(|(n, h)| {
        Ok(Checkpoint {
            number: to_u64("block_number", n)?,
            hash: parse_hash("block_hash", &h)?,
        })
    })
    .transpose()
}

/// Creates the checkpoint of a fresh store; keeps an existing one (another process was faster).
pub(crate) fn init_checkpoint(tx: &Transaction<'_>, scope: Scope, cp: Checkpoint) -> Result<Checkpoint, StoreError> {
    let (chain, rm) = scope.params()?;
    tx.execute(
        "INSERT OR IGNORE INTO monitor_checkpoints (chain_id, release_manager, block_number, block_hash, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![chain, rm, sql_u64(cp.number)?, cp.hash.to_string(), now_rfc3339()],
    )?;
    insert_hash(tx, scope, cp)?;
    load_checkpoint(tx, scope)?.ok_or_else(|| corrupt("monitor_checkpoints", "checkpoint vanished"))
}

fn set_checkpoint(tx: &Transaction<'_>, scope: Scope, expected: u64, cp: Checkpoint) -> Result<(), CommitError> {
    let current = load_checkpoint(tx, scope)?.map(|c| c.number);
    if current != Some(expected) {
        return Err(CommitError::Conflict {
            expected,
            found: current.unwrap_or(0),
        });
    }
    let (chain, rm) = scope.params()?;
    tx.execute(
        "UPDATE monitor_checkpoints SET block_number = ?3, block_hash = ?4, updated_at = ?5
         WHERE chain_id = ?1 AND release_manager = ?2",
        params![chain, rm, sql_u64(cp.number)?, cp.hash.to_string(), now_rfc3339()],
    )?;
    Ok(())
}

fn insert_hash(tx: &Transaction<'_>, scope: Scope, cp: Checkpoint) -> Result<(), StoreError> {
    let (chain, rm) = scope.params()?;
    tx.execute(
        "INSERT OR REPLACE INTO monitor_block_hashes (chain_id, release_manager, block_number, block_hash)
         VALUES (?1, ?2, ?3, ?4)",
        params![chain, rm, sql_u64(cp.number)?, cp.hash.to_string()],
    )?;
    Ok(())
}

/// Why a batch did not commit.
#[derive(Debug)]
pub(crate) enum CommitError {
    Store(StoreError),
    /// The checkpoint is not where this monitor left it.
    Conflict {
        expected: u64,
        found: u64,
    },
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<rusqlite::Error> for CommitError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Writes the releases and unresolved logs of the blocks after `expected` up to `cp`, and moves
/// the checkpoint to `cp`, in the caller's transaction.
pub(crate) fn commit_batch(
    tx: &Transaction<'_>,
    scope: Scope,
    expected: u64,
    releases: &[FoundRelease],
    unresolved: &[UnresolvedLog],
    cp: Checkpoint,
    keep_hashes: u32,
) -> Result<Tally, CommitError> {
    set_checkpoint(tx, scope, expected, cp)?;
    let mut tally = Tally::default();
    for found in releases {
        match upsert_from_log(tx, scope, found)? {
            Upsert::Inserted => tally.enqueued += 1,
            Upsert::Revived => tally.revived += 1,
            Upsert::Existing => tally.duplicate += 1,
        }
    }
    let (chain, rm) = scope.params()?;
    for log in unresolved {
        tx.execute(
            "INSERT OR IGNORE INTO monitor_unresolved_logs (chain_id, release_manager, tx_hash, log_index,
                 block_number, block_hash, operator_set_hash, release_id, reason, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                chain,
                rm,
                log.location.tx_hash.to_string(),
                sql_u64(log.location.log_index)?,
                sql_u64(log.location.block_number)?,
                log.location.block_hash.to_string(),
                log.operator_set_hash.to_string(),
                log.release_id.map(sql_u64).transpose()?,
                log.reason,
                log.recorded_at,
            ],
        )?;
    }
    insert_hash(tx, scope, cp)?;
    tx.execute(
        "DELETE FROM monitor_block_hashes WHERE chain_id = ?1 AND release_manager = ?2 AND block_number <
             (SELECT block_number FROM monitor_block_hashes WHERE chain_id = ?1 AND release_manager = ?2
              ORDER BY block_number DESC LIMIT 1 OFFSET ?3)",
        params![chain, rm, i64::from(keep_hashes.saturating_sub(1))],
    )?;
    Ok(tally)
}

enum Upsert {
    Inserted,
    Revived,
    Existing,
}

fn key(scope: Scope, release: &Release) -> OutboxKey {
    OutboxKey {
        chain_id: scope.chain_id,
        operator_set: release.operator_set,
        release_id: release.release_id,
    }
}

fn artifacts_json(release: &Release) -> Result<String, StoreError> {
    serde_json::to_string(&release.artifacts).map_err(|e| corrupt("artifacts", e))
}

fn upsert_from_log(tx: &Transaction<'_>, scope: Scope, found: &FoundRelease) -> Result<Upsert, StoreError> {
    let release = &found.release;
    let loc = found.location;
    let Some(existing) = entry_by_key(tx, &key(scope, release))? else {
        insert(tx, scope, release, found.resolved_by, Some(loc), "log")?;
        return Ok(Upsert::Inserted);
    };
    let (status, detail, outcome) = match existing.status {
        ReleaseStatus::Cancelled => (
            ReleaseStatus::Pending,
            Some("its log is back on the canonical chain"),
            Upsert::Revived,
        ),
        // Never reopen a finished release: a rescan after a restart sees the same log again.
        status => (status, None, Upsert::Existing),
    };
    let finished = matches!(existing.status, ReleaseStatus::Deployed | ReleaseStatus::Failed);
    if finished && existing.location.is_some() {
        return Ok(outcome);
    }
    // Unfinished rows take the log's content: after a reorg the same releaseId may carry another release.
    tx.execute(
        "UPDATE release_outbox SET artifacts = ?2, upgrade_by_time = ?3, block_number = ?4, block_hash = ?5,
             tx_hash = ?6, log_index = ?7, status = ?8, status_detail = COALESCE(?9, status_detail),
             resolved_by = CASE WHEN resolved_by = 'reconcile' THEN ?10 ELSE resolved_by END, updated_at = ?11
         WHERE seq = ?1",
        params![
            existing.seq,
            if finished {
                serde_json::to_string(&existing.release.artifacts).map_err(|e| corrupt("artifacts", e))?
            } else {
                artifacts_json(release)?
            },
            if finished {
                existing.release.upgrade_by_time
            } else {
                release.upgrade_by_time
            },
            sql_u64(loc.block_number)?,
            loc.block_hash.to_string(),
            loc.tx_hash.to_string(),
            sql_u64(loc.log_index)?,
            status.as_str(),
            detail,
            found.resolved_by.as_str(),
            now_rfc3339(),
        ],
    )?;
    Ok(outcome)
}

fn insert(
    tx: &Transaction<'_>,
    scope: Scope,
    release: &Release,
    resolved_by: ResolvedBy,
    loc: Option<LogLocation>,
    source: &str,
) -> Result<(), StoreError> {
    let (chain, rm) = scope.params()?;
    let now = now_rfc3339();
    tx.execute(
        "INSERT INTO release_outbox (chain_id, avs_address, operator_set_id, release_id, release_manager, artifacts,
             upgrade_by_time, source, resolved_by, block_number, block_hash, tx_hash, log_index, status,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'pending', ?14, ?14)",
        params![
            chain,
            release.operator_set.avs.to_string(),
            release.operator_set.id,
            sql_u64(release.release_id)?,
            rm,
            artifacts_json(release)?,
            release.upgrade_by_time,
            source,
            resolved_by.as_str(),
            loc.map(|l| sql_u64(l.block_number)).transpose()?,
            loc.map(|l| l.block_hash.to_string()),
            loc.map(|l| l.tx_hash.to_string()),
            loc.map(|l| sql_u64(l.log_index)).transpose()?,
            now,
        ],
    )?;
    Ok(())
}

/// Reconciliation found `release` as the latest of its operator set at a confirmed block.
/// Returns the metric outcome when it changed the outbox.
pub(crate) fn upsert_reconciled(
    tx: &Transaction<'_>,
    scope: Scope,
    release: &Release,
) -> Result<Option<&'static str>, StoreError> {
    let Some(existing) = entry_by_key(tx, &key(scope, release))? else {
        insert(tx, scope, release, ResolvedBy::Reconcile, None, "reconcile")?;
        return Ok(Some("reconciled"));
    };
    let same_content =
        existing.release.artifacts == release.artifacts && existing.release.upgrade_by_time == release.upgrade_by_time;
    let detail = match existing.status {
        ReleaseStatus::Cancelled => "on chain as the latest release at reconciliation",
        ReleaseStatus::Deployed | ReleaseStatus::Failed if !same_content => {
            "the chain now holds other content under this releaseId (reorg); deploying it"
        }
        _ => return Ok(None),
    };
    tx.execute(
        "UPDATE release_outbox SET artifacts = ?2, upgrade_by_time = ?3, status = 'pending', status_detail = ?4,
             updated_at = ?5 WHERE seq = ?1",
        params![
            existing.seq,
            artifacts_json(release)?,
            release.upgrade_by_time,
            detail,
            now_rfc3339()
        ],
    )?;
    Ok(Some("requeued"))
}

pub(crate) fn record_poll(tx: &Transaction<'_>, scope: Scope, head: u64, target: u64) -> Result<(), StoreError> {
    let (chain, rm) = scope.params()?;
    tx.execute(
        "UPDATE monitor_checkpoints SET head_block = ?3, target_block = ?4, polled_at = ?5
         WHERE chain_id = ?1 AND release_manager = ?2",
        params![chain, rm, sql_u64(head)?, sql_u64(target)?, now_rfc3339()],
    )?;
    Ok(())
}

/// Kept block hashes at or below `at_most`, newest first.
pub(crate) fn recent_hashes(tx: &Transaction<'_>, scope: Scope, at_most: u64) -> Result<Vec<Checkpoint>, StoreError> {
    let (chain, rm) = scope.params()?;
    let mut stmt = tx.prepare_cached(
        "SELECT block_number, block_hash FROM monitor_block_hashes
         WHERE chain_id = ?1 AND release_manager = ?2 AND block_number <= ?3 ORDER BY block_number DESC",
    )?;
    stmt.query_map(params![chain, rm, sql_u64(at_most)?], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?
    .map(|r| {
        let (n, h) = r?;
        Ok(Checkpoint {
            number: to_u64("block_number", n)?,
            hash: parse_hash("block_hash", &h)?,
        })
    })
    .collect()
}

/// Undelivered releases whose logs sit above `block`: the ones a reorg there may remove.
pub(crate) fn live_rows_above(tx: &Transaction<'_>, scope: Scope, block: u64) -> Result<Vec<OutboxEntry>, StoreError> {
    let (chain, rm) = scope.params()?;
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM release_outbox WHERE chain_id = ?1 AND release_manager = ?2 AND block_number > ?3
             AND status IN ('pending', 'claimed') ORDER BY seq"
    ))?;
    stmt.query_map(params![chain, rm, sql_u64(block)?], |row| Ok(entry_from_row(row)))?
        .collect::<Result<Result<Vec<_>, _>, _>>()?
}

/// What a rewind does to one undelivered release above the common ancestor.
#[derive(Debug, Clone)]
pub(crate) enum RowFate {
    /// Its transaction is still canonical and confirmed, now at this location.
    Moved(LogLocation),
    Cancelled(String),
}

/// Moves the checkpoint back to `ancestor` and applies the fates, in one transaction.
pub(crate) fn rewind(
    tx: &Transaction<'_>,
    scope: Scope,
    expected: u64,
    ancestor: Checkpoint,
    fates: &[(i64, RowFate)],
) -> Result<u64, CommitError> {
    set_checkpoint(tx, scope, expected, ancestor)?;
    let (chain, rm) = scope.params()?;
    let now = now_rfc3339();
    let mut cancelled = 0;
    for (seq, fate) in fates {
        match fate {
            RowFate::Moved(loc) => {
                tx.execute(
                    "UPDATE release_outbox SET block_number = ?2, block_hash = ?3, log_index = ?4, updated_at = ?5
                     WHERE seq = ?1",
                    params![
                        seq,
                        sql_u64(loc.block_number)?,
                        loc.block_hash.to_string(),
                        sql_u64(loc.log_index)?,
                        now
                    ],
                )?;
            }
            RowFate::Cancelled(reason) => {
                cancelled += 1;
                tx.execute(
                    "UPDATE release_outbox SET status = 'cancelled', status_detail = ?2, claimed_until = NULL,
                         updated_at = ?3 WHERE seq = ?1 AND status IN ('pending', 'claimed')",
                    params![seq, reason, now],
                )?;
            }
        }
    }
    let above = sql_u64(ancestor.number)?;
    tx.execute(
        "DELETE FROM monitor_block_hashes WHERE chain_id = ?1 AND release_manager = ?2 AND block_number > ?3",
        params![chain, rm, above],
    )?;
    tx.execute(
        "DELETE FROM monitor_unresolved_logs WHERE chain_id = ?1 AND release_manager = ?2 AND block_number > ?3",
        params![chain, rm, above],
    )?;
    insert_hash(tx, scope, ancestor)?;
    Ok(cancelled)
}

/// Operator sets that have ever had a release in the outbox of `chain_id`.
pub(crate) fn outbox_sets(tx: &Transaction<'_>, chain_id: u64) -> Result<Vec<OperatorSet>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT DISTINCT avs_address, operator_set_id FROM release_outbox WHERE chain_id = ?1 ORDER BY 1, 2",
    )?;
    stmt.query_map(params![sql_u64(chain_id)?], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?))
    })?
    .map(|r| {
        let (avs, id) = r?;
        Ok(OperatorSet::new(
            avs.parse().map_err(|e| corrupt("avs_address", e))?,
            id,
        ))
    })
    .collect()
}

/// Operator sets with an entry in the performer registry (any chain: the registry has none).
pub(crate) fn registry_sets(tx: &Transaction<'_>) -> Result<Vec<OperatorSet>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT avs_address, operator_set_id FROM performers ORDER BY 1, 2")?;
    stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?)))?
        .map(|r| {
            let (avs, id) = r?;
            Ok(OperatorSet::new(
                avs.parse().map_err(|e| corrupt("avs_address", e))?,
                id,
            ))
        })
        .collect()
}
