//! The monitor function, run on a schedule (the EventBridge event's content is ignored). One
//! invocation:
//!
//! 1. loads the checkpoint (DynamoDB item + SSM parameter, [`quartz_aws::Checkpoint`]); a fresh
//!    one starts `START_BLOCK`, or `START_WINDOW` blocks below the safe head;
//! 2. if the checkpoint's block is no longer canonical (a reorg), rewinds it [`REWIND_BLOCKS`];
//!    releases read again start the same executions, which Step Functions does not repeat;
//! 3. reads `ReleasePublished` logs after it in adaptive chunks (quartz-monitor's
//!    [`ChunkSizer`]), resolves each log's operator set as the embedded monitor does
//!    ([`Resolver`]: known sets, the transaction's input, its call trace), and starts one
//!    execution per release with the deterministic name, and **only then** advances the
//!    checkpoint past the chunk. A crash in between re-reads the chunk next time; StartExecution
//!    with the same name and input is idempotent, so nothing deploys twice;
//! 4. once caught up, reconciles: for every known set (the registry's, `WATCH`, and any
//!    discovered in this run), `getLatestRelease` at the safe head against the registry's
//!    release, starting the execution of a newer one.
//!
//! The work is bounded by `MAX_BLOCKS_PER_RUN` and by a deadline before the function's timeout;
//! the next scheduled run continues from the checkpoint.

use std::time::Instant;

use alloy_primitives::{Address, B256};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use quartz_aws::{BlockRef, Checkpoint, DynamoRegistry, RegistryTables};
use quartz_aws_stack::state_machine::{execution_input, execution_name};
use quartz_core::{OperatorSet, Release};
use quartz_monitor::chunk::ChunkSizer;
use quartz_monitor::contract::{PublishedLog, RELEASE_PUBLISHED};
use quartz_monitor::resolve::{Resolution, Resolver};
use quartz_monitor::rpc::{RawLog, RpcErrorKind, RpcPool};
use quartz_monitor::{Confirmations, MonitorConfig, MonitorError, latest_release};
use serde::Serialize;

use crate::settings::{Common, MonitorSettings};
use crate::{HandlerError, TARGET};

/// How far a reorg that moved the checkpoint's own block rewinds it: deeper than any reorg
/// seen on Ethereum since the merge, and cheap to read again.
pub const REWIND_BLOCKS: u64 = 128;
/// The largest `eth_getLogs` range the chunk sizer grows to.
const MAX_CHUNK_BLOCKS: u64 = 10_000;

/// What one invocation did; also the function's result, so a manual invoke shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorRun {
    pub chain_id: u64,
    /// The checkpoint before and after this run.
    pub from_block: u64,
    pub to_block: u64,
    /// The safe head (head minus confirmations, or finalized).
    pub target: u64,
    pub caught_up: bool,
    pub rewound: bool,
    pub logs: u64,
    /// Execution names started (or found running with the same input) from logs and by
    /// reconciliation, in order.
    pub executions: Vec<String>,
    /// Releases whose execution had already run (Step Functions' ExecutionAlreadyExists).
    pub already_existed: u64,
    pub unresolved: u64,
    pub reconciled_sets: u64,
}

/// The checkpoint's key in the monitor table: one item per chain and ReleaseManager.
pub fn checkpoint_scope(chain_id: u64, release_manager: Address) -> String {
    format!("{chain_id}/{release_manager:#x}")
}

pub struct MonitorHandler {
    settings: MonitorSettings,
    rpc: RpcPool,
    registry: DynamoRegistry,
    sfn: aws_sdk_sfn::Client,
    sdk: aws_config::SdkConfig,
}

impl MonitorHandler {
    pub async fn from_settings(common: &Common, settings: MonitorSettings) -> Result<Self, HandlerError> {
        let sdk = common.aws.load().await;
        Self::new(settings, &sdk, common.tables.clone())
    }

    pub fn new(
        settings: MonitorSettings,
        sdk: &aws_config::SdkConfig,
        tables: RegistryTables,
    ) -> Result<Self, HandlerError> {
        let config = MonitorConfig {
            rpc_urls: settings.rpc_urls.clone(),
            rpc_timeout_ms: u64::try_from(settings.rpc_timeout.as_millis()).unwrap_or(u64::MAX),
            release_manager: Some(settings.release_manager),
            ..MonitorConfig::default()
        };
        let rpc = RpcPool::new(&config)?;
        Ok(Self {
            settings,
            rpc,
            registry: DynamoRegistry::new(sdk, tables),
            sfn: aws_sdk_sfn::Client::new(sdk),
            sdk: sdk.clone(),
        })
    }

    fn release_manager(&self) -> Address {
        self.settings.release_manager
    }

    /// One scheduled run, doing no new work after `deadline`.
    pub async fn run(&self, deadline: Instant) -> Result<MonitorRun, HandlerError> {
        let chain_id = self.rpc.chain_id().await.map_err(MonitorError::from)?;
        let checkpoint = Checkpoint::new(
            &self.sdk,
            &self.settings.monitor_table,
            &self.settings.checkpoint_parameter,
            checkpoint_scope(chain_id, self.release_manager()),
        );
        let target = self.safe_head().await?;
        let mut run = MonitorRun {
            chain_id,
            target,
            ..MonitorRun::default()
        };
        let mut cp = match checkpoint.load().await? {
            Some(cp) => cp,
            None => self.initial_checkpoint(&checkpoint, target).await?,
        };
        if let Some(hash) = self.hash_of(cp.number).await?
            && hash != cp.hash
        {
            let number = cp.number.saturating_sub(REWIND_BLOCKS);
            let to = BlockRef {
                number,
                hash: self
                    .hash_of(number)
                    .await?
                    .ok_or(MonitorError::ChainMoved { block: number })?,
            };
            tracing::warn!(target: TARGET, checkpoint = %cp, rewind_to = %to, "the checkpoint's block was reorganized away; rewinding");
            checkpoint.rewind(cp, to).await?;
            cp = to;
            run.rewound = true;
        }
        run.from_block = cp.number;

        let mut resolver = Resolver::new(self.settings.discover, self.release_manager());
        for set in &self.settings.watch {
            resolver.add(*set);
        }
        for set in self.registry_sets().await? {
            resolver.add(set);
        }

        let end = target.min(cp.number.saturating_add(self.settings.max_blocks_per_run));
        let mut chunk = ChunkSizer::new(
            self.settings.chunk_blocks,
            MAX_CHUNK_BLOCKS.max(self.settings.chunk_blocks),
        );
        while cp.number < end && Instant::now() < deadline {
            let (from, to) = chunk.next_range(cp.number + 1, end);
            let logs = match self.rpc.logs(self.release_manager(), RELEASE_PUBLISHED, from, to).await {
                Ok(logs) => logs,
                Err(f) if f.kind == RpcErrorKind::RangeTooLarge && chunk.refused(from, to) => {
                    tracing::debug!(target: TARGET, from, to, next = chunk.size(), "range refused; splitting");
                    continue;
                }
                Err(f) => return Err(MonitorError::from(f).into()),
            };
            chunk.succeeded();
            let to_hash = self.hash_of(to).await?.ok_or(MonitorError::ChainMoved { block: to })?;
            // A log of block `to` from another fork than the hash just read: read again later.
            if logs
                .iter()
                .any(|l| l.block_number.map(|n| n.to::<u64>()) == Some(to) && l.block_hash != Some(to_hash))
            {
                return Err(MonitorError::ChainMoved { block: to }.into());
            }
            self.handle_logs(chain_id, &mut resolver, logs, from, to, &mut run)
                .await?;
            // The logs were read from the chain the checkpoint extends only if its block is
            // still canonical now; else the next run finds the reorg and rewinds.
            if self.hash_of(cp.number).await? != Some(cp.hash) {
                return Err(MonitorError::ChainMoved { block: cp.number }.into());
            }
            let next = BlockRef {
                number: to,
                hash: to_hash,
            };
            checkpoint.advance(next).await?;
            cp = next;
        }
        run.to_block = cp.number;
        run.caught_up = cp.number >= target;

        // As the embedded monitor: reconcile once the logs are read, so that releases found in
        // logs start in chain order before the latest ones are filled in.
        if run.caught_up {
            let mut sets: Vec<OperatorSet> = resolver.known().collect();
            sets.sort();
            for set in sets {
                if Instant::now() >= deadline {
                    break;
                }
                run.reconciled_sets += 1;
                self.reconcile(chain_id, set, target, &mut run).await?;
            }
        }
        tracing::info!(
            target: TARGET, chain_id, from = run.from_block, to = run.to_block, target, logs = run.logs,
            executions = run.executions.len(), already_existed = run.already_existed,
            unresolved = run.unresolved, reconciled_sets = run.reconciled_sets, caught_up = run.caught_up,
            "monitor run finished"
        );
        Ok(run)
    }

    async fn safe_head(&self) -> Result<u64, HandlerError> {
        let head = self.rpc.block_number().await.map_err(MonitorError::from)?;
        let target = match self.settings.confirmations {
            Confirmations::Blocks(n) => head.saturating_sub(n),
            Confirmations::Finalized => match self.rpc.finalized_block().await.map_err(MonitorError::from)? {
                Some(block) => block.number.to::<u64>(),
                None => 0,
            },
        };
        Ok(target.min(head))
    }

    async fn hash_of(&self, number: u64) -> Result<Option<B256>, HandlerError> {
        Ok(self
            .rpc
            .block(number)
            .await
            .map_err(MonitorError::from)?
            .map(|b| b.hash))
    }

    async fn initial_checkpoint(&self, checkpoint: &Checkpoint, target: u64) -> Result<BlockRef, HandlerError> {
        let start = self
            .settings
            .start_block
            .unwrap_or_else(|| target.saturating_sub(self.settings.start_window).saturating_add(1))
            .max(1);
        let number = start - 1;
        let hash = self
            .hash_of(number)
            .await?
            .ok_or(MonitorError::ChainMoved { block: number })?;
        let cp = BlockRef { number, hash };
        checkpoint.advance(cp).await?;
        tracing::info!(target: TARGET, start_block = start, "fresh checkpoint: scanning from the start block");
        Ok(cp)
    }

    async fn registry_sets(&self) -> Result<Vec<OperatorSet>, HandlerError> {
        let mut sets = Vec::new();
        let mut after = None;
        loop {
            let page = self.registry.list_performers(after, None, 1000).await?;
            sets.extend(
                page.performers
                    .iter()
                    .map(|p| OperatorSet::new(p.avs_address, p.operator_set_id)),
            );
            match page.next_after {
                Some(next) => after = Some((next.avs, u64::from(next.id))),
                None => return Ok(sets),
            }
        }
    }

    /// Resolves and starts the releases of one chunk's logs, in chain order. A log that does
    /// not match the filter is skipped; one whose operator set cannot be found is logged and
    /// counted (never blocks the scan), as in the embedded monitor.
    async fn handle_logs(
        &self,
        chain_id: u64,
        resolver: &mut Resolver,
        mut logs: Vec<RawLog>,
        from: u64,
        to: u64,
        run: &mut MonitorRun,
    ) -> Result<(), HandlerError> {
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        for log in logs {
            let in_range = log
                .block_number
                .map(|n| n.to::<u64>())
                .is_some_and(|n| (from..=to).contains(&n));
            if log.removed
                || log.address != self.release_manager()
                || log.topics.first() != Some(&RELEASE_PUBLISHED)
                || !in_range
            {
                tracing::warn!(target: TARGET, address = %log.address, "skipping a log that does not match the filter");
                continue;
            }
            run.logs += 1;
            let Some(tx_hash) = log.transaction_hash else {
                run.unresolved += 1;
                continue;
            };
            let decoded = match PublishedLog::decode(&log.topics, &log.data) {
                Ok(decoded) => decoded,
                Err(e) => {
                    tracing::warn!(target: TARGET, tx = %tx_hash, reason = %e.0, "undecodable ReleasePublished log");
                    run.unresolved += 1;
                    continue;
                }
            };
            match resolver.resolve(&self.rpc, decoded.set_topic, tx_hash).await? {
                Resolution::Found(set, _) => self.start(chain_id, decoded.into_release(set), run).await?,
                Resolution::Ignored => {}
                Resolution::Unresolved(reason) => {
                    tracing::warn!(target: TARGET, tx = %tx_hash, %reason, "cannot resolve the operator set of a release");
                    run.unresolved += 1;
                }
            }
        }
        Ok(())
    }

    async fn reconcile(
        &self,
        chain_id: u64,
        set: OperatorSet,
        at: u64,
        run: &mut MonitorRun,
    ) -> Result<(), HandlerError> {
        let Some(latest) = latest_release(&self.rpc, self.release_manager(), &set, at).await? else {
            return Ok(());
        };
        let deployed = self.registry.get_performer(set).await?.and_then(|p| p.release_id);
        if deployed.is_some_and(|d| d >= latest.release_id) {
            return Ok(());
        }
        tracing::info!(target: TARGET, operator_set = %set, release = latest.release_id, ?deployed, "reconciliation found a newer release");
        self.start(chain_id, latest, run).await
    }

    /// StartExecution with the release's deterministic name and input: the same call for a
    /// running execution returns it, and one that already ended answers
    /// ExecutionAlreadyExists, which means the release was handed over already.
    async fn start(&self, chain_id: u64, release: Release, run: &mut MonitorRun) -> Result<(), HandlerError> {
        let name = execution_name(&release)?;
        let input = execution_input(chain_id, release)?;
        let result = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.settings.state_machine_arn)
            .name(&name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::info!(target: TARGET, execution = %name, "execution started");
                if !run.executions.contains(&name) {
                    run.executions.push(name);
                }
                Ok(())
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(StartExecutionError::ExecutionAlreadyExists(_))
                ) =>
            {
                tracing::debug!(target: TARGET, execution = %name, "execution already exists");
                run.already_existed += 1;
                Ok(())
            }
            Err(e) => Err(HandlerError::StepFunctions {
                op: "StartExecution",
                code: e.code().unwrap_or("Unreachable").to_string(),
                message: e.message().map_or_else(|| e.to_string(), str::to_string),
            }),
        }
    }
}
