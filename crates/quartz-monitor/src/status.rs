//! What `quartz status` shows about the monitor, read from the store alone (no RPC).

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256};
use quartz_store::{Store, StoreError};
use rusqlite::params;
use serde::Serialize;

use crate::MonitorError;
use crate::db::{Checkpoint, UnresolvedLog};
use crate::error::corrupt;
use crate::outbox::LogLocation;

/// How many unresolved logs the status lists (all are counted).
const UNRESOLVED_SHOWN: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorStatus {
    pub chains: Vec<ChainStatus>,
    /// Outbox rows by status, over all chains.
    pub outbox: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainStatus {
    pub chain_id: u64,
    pub release_manager: Address,
    pub checkpoint: Checkpoint,
    /// The head at the last poll.
    pub head_block: Option<u64>,
    /// The safe head (head less confirmations, or finalized) at the last poll.
    pub target_block: Option<u64>,
    pub lag_blocks: Option<u64>,
    pub polled_at: Option<String>,
    pub unresolved_count: u64,
    /// The most recent unresolved logs, newest first.
    pub unresolved: Vec<UnresolvedLog>,
}

pub async fn status(store: &Store) -> Result<MonitorStatus, MonitorError> {
    Ok(store.read(read_status).await?)
}

fn read_status(tx: &rusqlite::Transaction<'_>) -> Result<MonitorStatus, StoreError> {
    let mut chains = Vec::new();
    let mut stmt = tx.prepare(
        "SELECT chain_id, release_manager, block_number, block_hash, head_block, target_block, polled_at
         FROM monitor_checkpoints ORDER BY chain_id, release_manager",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, Option<i64>>(4)?,
            row.get::<_, Option<i64>>(5)?,
            row.get::<_, Option<String>>(6)?,
        ))
    })?;
    for row in rows {
        let (chain, rm, number, hash, head, target, polled_at) = row?;
        let number = u64::try_from(number).map_err(|e| corrupt("block_number", e))?;
        let target = target.and_then(|t| u64::try_from(t).ok());
        let unresolved_count: i64 = tx.query_row(
            "SELECT COUNT(*) FROM monitor_unresolved_logs WHERE chain_id = ?1 AND release_manager = ?2",
            params![chain, rm],
            |r| r.get(0),
        )?;
        chains.push(ChainStatus {
            chain_id: u64::try_from(chain).map_err(|e| corrupt("chain_id", e))?,
            release_manager: rm.parse().map_err(|e| corrupt("release_manager", e))?,
            checkpoint: Checkpoint {
                number,
                hash: hash.parse().map_err(|e| corrupt("block_hash", e))?,
            },
            head_block: head.and_then(|h| u64::try_from(h).ok()),
            target_block: target,
            lag_blocks: target.map(|t| t.saturating_sub(number)),
            polled_at,
            unresolved_count: u64::try_from(unresolved_count).unwrap_or(0),
            unresolved: unresolved_logs(tx, chain, &rm)?,
        });
    }
    let mut outbox = BTreeMap::new();
    let mut stmt = tx.prepare("SELECT status, COUNT(*) FROM release_outbox GROUP BY status")?;
    for row in stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))? {
        let (status, count) = row?;
        outbox.insert(status, u64::try_from(count).unwrap_or(0));
    }
    Ok(MonitorStatus { chains, outbox })
}

fn unresolved_logs(tx: &rusqlite::Transaction<'_>, chain: i64, rm: &str) -> Result<Vec<UnresolvedLog>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT block_number, block_hash, tx_hash, log_index, operator_set_hash, release_id, reason, recorded_at
         FROM monitor_unresolved_logs WHERE chain_id = ?1 AND release_manager = ?2
         ORDER BY block_number DESC, log_index DESC LIMIT ?3",
    )?;
    let hash = |column: &'static str, v: String| v.parse::<B256>().map_err(|e| corrupt(column, e));
    let rows = stmt.query_map(params![chain, rm, UNRESOLVED_SHOWN], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, Option<i64>>(5)?,
            row.get::<_, String>(6)?,
            row.get::<_, String>(7)?,
        ))
    })?;
    rows.map(|row| {
        let (number, block_hash, tx_hash, index, set_hash, release_id, reason, recorded_at) = row?;
        Ok(UnresolvedLog {
            location: LogLocation {
                block_number: u64::try_from(number).map_err(|e| corrupt("block_number", e))?,
                block_hash: hash("block_hash", block_hash)?,
                tx_hash: hash("tx_hash", tx_hash)?,
                log_index: u64::try_from(index).map_err(|e| corrupt("log_index", e))?,
            },
            operator_set_hash: hash("operator_set_hash", set_hash)?,
            release_id: release_id.and_then(|r| u64::try_from(r).ok()),
            reason,
            recorded_at,
        })
    })
    .collect()
}
