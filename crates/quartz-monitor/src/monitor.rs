//! One poll: find the safe head, check the checkpoint is still canonical (else rewind), then
//! scan the blocks after it in adaptive chunks, committing each chunk's releases together with
//! the checkpoint that covers them.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use quartz_core::OperatorSet;
use quartz_store::{Store, now_rfc3339};
use tokio_util::sync::CancellationToken;

use crate::chunk::ChunkSizer;
use crate::config::Confirmations;
use crate::contract::{PublishedLog, RELEASE_PUBLISHED, default_release_manager};
use crate::db::{self, Checkpoint, CommitError, FoundRelease, Scope, UnresolvedLog};
use crate::outbox::LogLocation;
use crate::progress::Progress;
use crate::resolve::{Resolution, Resolver};
use crate::rpc::{Backoff, RawLog, RpcErrorKind, RpcPool};
use crate::{MonitorConfig, MonitorError, telemetry};

pub(crate) const TARGET: &str = "quartz::monitor";

pub(crate) struct Monitor {
    pub config: MonitorConfig,
    pub rpc: RpcPool,
    pub store: Store,
    pub scope: Scope,
    pub resolver: Resolver,
    chunk: ChunkSizer,
    progress: Progress,
}

/// Where a poll left the monitor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polled {
    pub caught_up: bool,
}

impl Monitor {
    /// Connects to the chain, retrying while the RPC is down; `None` if shut down meanwhile.
    pub async fn connect(
        config: MonitorConfig,
        store: Store,
        shutdown: &CancellationToken,
    ) -> Result<Option<Self>, MonitorError> {
        let rpc = RpcPool::new(&config)?;
        let mut backoff = Backoff::new(config.max_backoff());
        let chain_id = loop {
            match rpc.chain_id().await {
                Ok(id) => break id,
                Err(f) => {
                    metrics::counter!(telemetry::ERRORS, "kind" => f.kind.as_str()).increment(1);
                    let delay = backoff.delay(f.retry_after);
                    tracing::warn!(target: TARGET, error = %f.message, retry_in_ms = delay.as_millis() as u64,
                        "cannot reach any RPC endpoint");
                    if !sleep_or_cancel(delay, shutdown).await {
                        return Ok(None);
                    }
                }
            }
        };
        if let Some(expected) = config.chain_id
            && expected != chain_id
        {
            return Err(MonitorError::ChainIdMismatch {
                expected,
                actual: chain_id,
            });
        }
        let release_manager = config
            .release_manager
            .or_else(|| default_release_manager(chain_id))
            .ok_or(MonitorError::NoReleaseManager { chain_id })?;
        let mut resolver = Resolver::new(config.discover, release_manager);
        for set in config.watched_sets() {
            resolver.add(set);
        }
        let scope = Scope {
            chain_id,
            release_manager,
        };
        let chunk = ChunkSizer::new(config.initial_chunk_blocks, config.max_chunk_blocks);
        let progress = Progress::new(config.progress_bar);
        let mut monitor = Self {
            config,
            rpc,
            store,
            scope,
            resolver,
            chunk,
            progress,
        };
        monitor.refresh_known_sets().await?;
        tracing::info!(target: TARGET, chain_id, release_manager = %release_manager, endpoint = monitor.rpc.active_label(),
            discover = ?monitor.config.discover, known_sets = monitor.resolver.known().count(), "monitor connected");
        Ok(Some(monitor))
    }

    /// Adds the registry's operator sets and those with releases in the outbox to the table.
    pub async fn refresh_known_sets(&mut self) -> Result<(), MonitorError> {
        let chain_id = self.scope.chain_id;
        for set in self.store.read(move |tx| db::outbox_sets(tx, chain_id)).await? {
            self.resolver.add(set);
        }
        for set in self.store.read(db::registry_sets).await? {
            self.resolver.add(set);
        }
        Ok(())
    }

    pub fn release_manager(&self) -> Address {
        self.scope.release_manager
    }

    /// The chain head and the highest block that is final enough to scan.
    pub async fn safe_head(&self) -> Result<(u64, u64), MonitorError> {
        let head = self.rpc.block_number().await?;
        let target = match self.config.confirmations {
            Confirmations::Blocks(n) => head.saturating_sub(n),
            Confirmations::Finalized => match self.rpc.finalized_block().await? {
                Some(block) => block.number.to::<u64>(),
                None => 0,
            },
        };
        Ok((head, target.min(head)))
    }

    pub async fn poll(&mut self, shutdown: &CancellationToken) -> Result<Polled, MonitorError> {
        metrics::counter!(telemetry::POLLS).increment(1);
        let (head, target) = self.safe_head().await?;
        metrics::gauge!(telemetry::HEAD_BLOCK).set(head as f64);
        let cp = self.checkpoint(target).await?;
        let cp = self.check_canonical(cp, target).await?;
        let scope = self.scope;
        self.store
            .write(move |tx| db::record_poll(tx, scope, head, target))
            .await?;
        metrics::gauge!(telemetry::LAG_BLOCKS).set(target.saturating_sub(cp.number) as f64);
        if cp.number >= target {
            return Ok(Polled { caught_up: true });
        }
        let cp = self.scan(cp, target, shutdown).await?;
        Ok(Polled {
            caught_up: cp.number >= target,
        })
    }

    /// The stored checkpoint, or on a fresh store the block before the configured start.
    async fn checkpoint(&self, target: u64) -> Result<Checkpoint, MonitorError> {
        let scope = self.scope;
        if let Some(cp) = self.store.read(move |tx| db::load_checkpoint(tx, scope)).await? {
            return Ok(cp);
        }
        let start = self
            .config
            .start_block
            .unwrap_or_else(|| target.saturating_sub(self.config.start_window).saturating_add(1))
            .max(1);
        let number = start - 1;
        let block = self
            .rpc
            .block(number)
            .await?
            .ok_or(MonitorError::ChainMoved { block: number })?;
        let cp = Checkpoint {
            number,
            hash: block.hash,
        };
        let cp = self.store.write(move |tx| db::init_checkpoint(tx, scope, cp)).await?;
        tracing::info!(target: TARGET, start_block = cp.number + 1, "fresh store: scanning from the start block");
        Ok(cp)
    }

    /// Returns `cp` if its block is still canonical, else rewinds to the newest kept block that
    /// is, cancelling undelivered releases whose transactions are gone.
    async fn check_canonical(&self, cp: Checkpoint, target: u64) -> Result<Checkpoint, MonitorError> {
        match self.canonical_hash(cp.number).await? {
            Some(hash) if hash == cp.hash => return Ok(cp),
            // A chain shorter than the checkpoint is most often an endpoint that lags behind
            // (e.g. after a failover); a real reorg shows once the chain grows past it again.
            None => return Ok(cp),
            Some(_) => {}
        }
        metrics::counter!(telemetry::REORGS).increment(1);
        let scope = self.scope;
        let kept = self
            .store
            .read(move |tx| db::recent_hashes(tx, scope, cp.number))
            .await?;
        let mut ancestor = None;
        for candidate in &kept {
            if self.canonical_hash(candidate.number).await? == Some(candidate.hash) {
                ancestor = Some(*candidate);
                break;
            }
        }
        let ancestor = match ancestor {
            Some(a) => a,
            None => {
                // Deeper than the kept hashes: rescan from below the oldest one we kept.
                let number = kept.last().map_or(cp.number, |c| c.number).saturating_sub(1);
                tracing::error!(target: TARGET, checkpoint = cp.number, rescan_from = number + 1,
                    "reorg deeper than the kept block hashes (monitor.reorg_history)");
                let block = self
                    .rpc
                    .block(number)
                    .await?
                    .ok_or(MonitorError::ChainMoved { block: number })?;
                Checkpoint {
                    number,
                    hash: block.hash,
                }
            }
        };
        let rows = self
            .store
            .read(move |tx| db::live_rows_above(tx, scope, ancestor.number))
            .await?;
        let mut fates = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(loc) = row.location else { continue };
            let fate = match self
                .find_release_log(loc.tx_hash, &row.release.operator_set, row.key.release_id, target)
                .await?
            {
                Some(moved) => db::RowFate::Moved(moved),
                None => db::RowFate::Cancelled(format!(
                    "its log in block {} was removed by a chain reorganization",
                    loc.block_number
                )),
            };
            fates.push((row.seq, fate));
        }
        let expected = cp.number;
        let cancelled = self
            .store
            .write(move |tx| split_conflict(scope, db::rewind(tx, scope, expected, ancestor, &fates)))
            .await??;
        telemetry::release("cancelled", cancelled);
        tracing::warn!(target: TARGET, checkpoint = cp.number, ancestor = ancestor.number, cancelled,
            "chain reorganization: rewound to the common ancestor");
        Ok(ancestor)
    }

    async fn canonical_hash(&self, number: u64) -> Result<Option<B256>, MonitorError> {
        Ok(self.rpc.block(number).await?.map(|b| b.hash))
    }

    /// Where the log of (set, release_id) from transaction `tx_hash` is now, if that
    /// transaction succeeded in a confirmed block.
    async fn find_release_log(
        &self,
        tx_hash: B256,
        set: &OperatorSet,
        release_id: u64,
        target: u64,
    ) -> Result<Option<LogLocation>, MonitorError> {
        let Some(receipt) = self.rpc.receipt(tx_hash).await? else {
            return Ok(None);
        };
        let (Some(number), Some(hash)) = (receipt.block_number, receipt.block_hash) else {
            return Ok(None);
        };
        let number = number.to::<u64>();
        if number > target || receipt.status.is_some_and(|s| s.to::<u64>() != 1) {
            return Ok(None);
        }
        let topic = crate::contract::operator_set_topic(set);
        let wanted_id = B256::from(alloy::primitives::U256::from(release_id));
        Ok(receipt.logs.iter().find_map(|log| {
            let matches = log.address == self.scope.release_manager
                && log.topics.len() >= 3
                && log.topics[0] == RELEASE_PUBLISHED
                && log.topics[1] == topic
                && log.topics[2] == wanted_id;
            matches.then(|| LogLocation {
                block_number: number,
                block_hash: hash,
                tx_hash,
                log_index: log.log_index.map_or(0, |i| i.to::<u64>()),
            })
        }))
    }

    async fn scan(
        &mut self,
        mut cp: Checkpoint,
        target: u64,
        shutdown: &CancellationToken,
    ) -> Result<Checkpoint, MonitorError> {
        self.progress.begin(cp.number + 1, target);
        let mut backoff = Backoff::new(self.config.max_backoff());
        while cp.number < target {
            if shutdown.is_cancelled() {
                self.progress.suspend();
                return Ok(cp);
            }
            let (from, to) = self.chunk.next_range(cp.number + 1, target);
            let logs = match self
                .rpc
                .logs(self.scope.release_manager, RELEASE_PUBLISHED, from, to)
                .await
            {
                Ok(logs) => logs,
                Err(f) if f.kind == RpcErrorKind::RangeTooLarge => {
                    if !self.chunk.refused(from, to) {
                        self.progress.suspend();
                        return Err(f.into());
                    }
                    tracing::debug!(target: TARGET, from, to, next = self.chunk.size(), "range refused; splitting");
                    metrics::gauge!(telemetry::CHUNK_BLOCKS).set(self.chunk.size() as f64);
                    continue;
                }
                Err(f) if f.kind == RpcErrorKind::RateLimited => {
                    let delay = backoff.delay(f.retry_after);
                    tracing::debug!(target: TARGET, delay_ms = delay.as_millis() as u64, "rate limited; backing off");
                    if !sleep_or_cancel(delay, shutdown).await {
                        self.progress.suspend();
                        return Ok(cp);
                    }
                    continue;
                }
                Err(f) => {
                    self.progress.suspend();
                    return Err(f.into());
                }
            };
            backoff.reset();
            self.chunk.succeeded();
            metrics::gauge!(telemetry::CHUNK_BLOCKS).set(self.chunk.size() as f64);
            match self.commit_chunk(cp, from, to, logs).await {
                Ok((next, count)) => {
                    cp = next;
                    self.progress.advance(cp.number, count);
                    metrics::gauge!(telemetry::CHECKPOINT_BLOCK).set(cp.number as f64);
                    metrics::gauge!(telemetry::LAG_BLOCKS).set(target.saturating_sub(cp.number) as f64);
                }
                Err(e) => {
                    self.progress.suspend();
                    return Err(e);
                }
            }
        }
        self.progress.finish();
        Ok(cp)
    }

    /// Resolves and commits the logs of `[from, to]`; returns the new checkpoint and log count.
    async fn commit_chunk(
        &mut self,
        cp: Checkpoint,
        from: u64,
        to: u64,
        mut logs: Vec<RawLog>,
    ) -> Result<(Checkpoint, u64), MonitorError> {
        // Anchor after reading the logs: if `to` and the previous checkpoint are both still
        // canonical now, the logs were read from the chain this checkpoint extends.
        let to_block = self
            .rpc
            .block(to)
            .await?
            .ok_or(MonitorError::ChainMoved { block: to })?;
        if self.canonical_hash(cp.number).await? != Some(cp.hash) {
            return Err(MonitorError::ChainMoved { block: cp.number });
        }
        let next = Checkpoint {
            number: to,
            hash: to_block.hash,
        };
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        let count = logs.len() as u64;
        metrics::counter!(telemetry::LOGS).increment(count);
        let mut releases = Vec::new();
        let mut unresolved = Vec::new();
        let mut ignored = 0;
        for log in logs {
            let Some(loc) = self.check_log(&log, from, to, next)? else {
                continue;
            };
            let decoded = match PublishedLog::decode(&log.topics, &log.data) {
                Ok(decoded) => decoded,
                Err(e) => {
                    let set_hash = log.topics.get(1).copied().unwrap_or_default();
                    unresolved.push(unresolved_log(loc, set_hash, None, format!("undecodable log: {}", e.0)));
                    continue;
                }
            };
            match self.resolver.resolve(&self.rpc, decoded.set_topic, loc.tx_hash).await? {
                Resolution::Found(set, resolved_by) => {
                    releases.push(FoundRelease {
                        release: decoded.into_release(set),
                        resolved_by,
                        location: loc,
                    });
                }
                Resolution::Ignored => ignored += 1,
                Resolution::Unresolved(reason) => {
                    tracing::warn!(target: TARGET, tx = %loc.tx_hash, block = loc.block_number, %reason,
                        "cannot resolve the operator set of a release");
                    unresolved.push(unresolved_log(loc, decoded.set_topic, Some(decoded.release_id), reason));
                }
            }
        }
        let scope = self.scope;
        let keep = self.config.reorg_history;
        let unresolved_count = unresolved.len() as u64;
        let tally = self
            .store
            .write(move |tx| {
                split_conflict(
                    scope,
                    db::commit_batch(tx, scope, cp.number, &releases, &unresolved, next, keep),
                )
            })
            .await??;
        telemetry::release("enqueued", tally.enqueued);
        telemetry::release("revived", tally.revived);
        telemetry::release("duplicate", tally.duplicate);
        telemetry::release("unresolved", unresolved_count);
        telemetry::release("ignored", ignored);
        if tally.enqueued + tally.revived > 0 {
            tracing::info!(target: TARGET, from, to, enqueued = tally.enqueued, revived = tally.revived, "releases enqueued");
        }
        Ok((next, count))
    }

    /// Checks a log from the RPC (untrusted) and returns its location, or `None` to skip it.
    fn check_log(
        &self,
        log: &RawLog,
        from: u64,
        to: u64,
        anchor: Checkpoint,
    ) -> Result<Option<LogLocation>, MonitorError> {
        let invalid = |what: &str| MonitorError::Rpc {
            method: "eth_getLogs",
            kind: RpcErrorKind::Invalid,
            message: format!("log {what}"),
        };
        if log.removed || log.address != self.scope.release_manager || log.topics.first() != Some(&RELEASE_PUBLISHED) {
            tracing::warn!(target: TARGET, address = %log.address, "skipping a log that does not match the filter");
            return Ok(None);
        }
        let (Some(number), Some(block_hash), Some(tx_hash), Some(index)) =
            (log.block_number, log.block_hash, log.transaction_hash, log.log_index)
        else {
            return Err(invalid("without block number, block hash, transaction hash or index"));
        };
        let number = number.to::<u64>();
        if number < from || number > to {
            return Err(invalid(&format!(
                "in block {number}, outside the requested range {from}-{to}"
            )));
        }
        if number == anchor.number && block_hash != anchor.hash {
            return Err(MonitorError::ChainMoved { block: number });
        }
        Ok(Some(LogLocation {
            block_number: number,
            block_hash,
            tx_hash,
            log_index: index.to::<u64>(),
        }))
    }
}

/// A checkpoint conflict is found before anything is written, so it may leave the transaction
/// as an `Ok` (committing nothing) and reach the caller as a [`MonitorError`].
fn split_conflict<T>(
    scope: Scope,
    result: Result<T, CommitError>,
) -> Result<Result<T, MonitorError>, quartz_store::StoreError> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(CommitError::Conflict { expected, found }) => Ok(Err(MonitorError::CheckpointConflict {
            chain_id: scope.chain_id,
            expected,
            found,
        })),
        Err(CommitError::Store(e)) => Err(e),
    }
}

fn unresolved_log(location: LogLocation, set_hash: B256, release_id: Option<u64>, reason: String) -> UnresolvedLog {
    UnresolvedLog {
        location,
        operator_set_hash: set_hash,
        release_id,
        reason,
        recorded_at: now_rfc3339(),
    }
}

/// Sleeps for `delay`; false if `shutdown` fired first.
pub(crate) async fn sleep_or_cancel(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}
