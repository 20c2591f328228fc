//! The factory: a durable, digest-pinned deployment of each release the monitor hands over.
//!
//! The workflow is data ([`workflow::WORKFLOW`]: validate, resolve, make-available, deploy,
//! publish, smoke-check, promote, register, with retry policies and error classes), run here by
//! an embedded engine that journals executions and step attempts in SQLite and resumes after a
//! restart at the first unfinished step. Executions are named after (avs, operator set,
//! releaseId), so a release delivered twice runs once. A failed release never moves `live`.
//!
//! Entry points: [`run`] consumes the release outbox until shutdown (embedded by `quartz up`);
//! [`Factory::deploy`] runs one release; [`StepRunner`] runs one step on a context (a Step
//! Functions task on AWS); [`rollback()`]; [`Journal`] for the executions API.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod context;
mod engine;
mod error;
mod journal;
mod lambda;
mod rollback;
mod step_runner;
mod steps;
pub mod telemetry;
pub mod workflow;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::Client;
use quartz_core::Release;
use quartz_monitor::{Completion, MonitorError, Outbox, OutboxEntry, OutboxKey};
use quartz_store::{PerformerBackend, Store};
use tokio_util::sync::CancellationToken;

pub use config::{FactoryConfig, FunctionOverride, FunctionSettings};
pub use context::{Context, execution_id};
pub use engine::ExecutionOutcome;
pub use error::{ErrorClass, FactoryError, StepError};
pub use journal::{
    AttemptView, ExecutionDetail, ExecutionFailure, ExecutionStatus, ExecutionSummary, Journal, StepView,
};
pub use rollback::{RolledBack, rollback};
pub use step_runner::StepRunner;
pub use steps::{LIVE_ALIAS, LocalAvailability, MAX_IMAGE_BYTES, MakeAvailable, ResolvedImage, choose_artifact};

use engine::Engine;
use steps::StepEnv;

pub(crate) const TARGET: &str = "quartz::factory";

/// What the factory needs from its host.
#[derive(Clone)]
pub struct FactoryDeps {
    pub store: Store,
    /// A client of the Lambda API (the local runtime or AWS); its read timeout must exceed the
    /// smoke check's function timeout.
    pub lambda: Client,
    pub availability: Arc<dyn MakeAvailable>,
    /// Where resolve keeps verified manifests and blobs (`{data dir}/factory`).
    pub work_dir: PathBuf,
}

pub struct Factory {
    engine: Engine,
}

impl Factory {
    pub fn new(config: FactoryConfig, deps: FactoryDeps) -> Result<Self, FactoryError> {
        let performers = Arc::new(deps.store.clone());
        Self::with_performers(config, deps, performers)
    }

    /// Reads and writes registry entries in `performers` (DynamoDB on AWS) rather than in the
    /// store, which keeps the journal.
    pub fn with_performers(
        config: FactoryConfig,
        deps: FactoryDeps,
        performers: Arc<dyn PerformerBackend>,
    ) -> Result<Self, FactoryError> {
        config.validate()?;
        let env = StepEnv::new(config, deps.lambda, performers, deps.availability, &deps.work_dir);
        let journal = Journal::new(deps.store.clone());
        Ok(Self {
            engine: Engine {
                env: Arc::new(env),
                journal,
            },
        })
    }

    /// Deploys `release`: runs its execution, resumes it, or returns how it already ended.
    pub async fn deploy(
        &self,
        chain_id: u64,
        release: Release,
        shutdown: &CancellationToken,
    ) -> Result<ExecutionOutcome, FactoryError> {
        self.engine.execute(chain_id, release, shutdown).await
    }

    pub fn journal(&self) -> &Journal {
        &self.engine.journal
    }

    async fn handle(
        &self,
        outbox: &Outbox,
        entry: OutboxEntry,
        lease: Duration,
        shutdown: &CancellationToken,
    ) -> Result<(), FactoryError> {
        let key = entry.key;
        let deployment = self.deploy(key.chain_id, entry.release, shutdown);
        let outcome = match renewing(outbox, key, lease, deployment).await {
            Ok(outcome) => outcome,
            Err(error) => {
                // The journal keeps what was done; give the release back to be resumed.
                let _ = outbox.unclaim(key).await;
                return Err(error);
            }
        };
        let result = match outcome {
            ExecutionOutcome::Succeeded { .. } => outbox.complete(key, Completion::Deployed).await,
            ExecutionOutcome::Failed { detail, .. } => outbox.complete(key, Completion::Failed { detail }).await,
            ExecutionOutcome::Interrupted { .. } => outbox.unclaim(key).await,
        };
        match result {
            // A reorg cancelled the release while it deployed; the deployment stands.
            Err(MonitorError::NotClaimed { key, status }) => {
                tracing::warn!(target: TARGET, %key, %status, "release no longer claimed when finished");
                Ok(())
            }
            other => Ok(other?),
        }
    }
}

/// Runs `work` while renewing the claim on `key` every third of `lease`.
async fn renewing<F: std::future::Future>(outbox: &Outbox, key: OutboxKey, lease: Duration, work: F) -> F::Output {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = tick.tick() => match outbox.renew(key, lease).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(target: TARGET, %key, "release no longer claimed while deploying"),
                Err(error) => tracing::warn!(target: TARGET, %key, %error, "cannot renew the claim; retrying"),
            },
        }
    }
}

/// Consumes the release outbox until `shutdown`, one release at a time in outbox order, so that
/// releases of one operator set deploy in the order they were published and the highest ends
/// live. Store errors are retried with backoff; only invalid configuration returns early.
pub async fn run(config: FactoryConfig, deps: FactoryDeps, shutdown: CancellationToken) -> Result<(), FactoryError> {
    let poll = config.poll_interval();
    let lease = config.lease();
    let outbox = Outbox::new(deps.store.clone());
    let factory = Factory::new(config, deps)?;
    tracing::info!(target: TARGET, "factory started");
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        let delay = match outbox.claim_next(lease).await {
            Ok(Some(entry)) => match factory.handle(&outbox, entry, lease, &shutdown).await {
                Ok(()) => {
                    backoff = Duration::from_millis(200);
                    Duration::ZERO
                }
                Err(error) => {
                    tracing::error!(target: TARGET, %error, "deployment interrupted by an error; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                }
            },
            Ok(None) => poll,
            Err(error) => {
                tracing::error!(target: TARGET, %error, "cannot read the release outbox; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(30));
                backoff
            }
        };
        if !delay.is_zero() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
    tracing::info!(target: TARGET, "factory stopped");
    Ok(())
}
