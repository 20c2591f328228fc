//! The embedded durable engine: runs [`WORKFLOW`] for one release, journaling every attempt, and
//! resumes an execution at its first unfinished step.

use std::sync::Arc;
use std::time::Instant;

use quartz_core::Release;
use quartz_core::registry::{ReleaseOutcome, ReleaseRecord};
use quartz_store::{BackendError, PerformerBackend, now_rfc3339};
use tokio_util::sync::CancellationToken;

use crate::context::{Context, execution_id};
use crate::error::StepError;
use crate::journal::{ExecutionStatus, Journal};
use crate::steps::{self, StepEnv};
use crate::telemetry;
use crate::workflow::{StepId, WORKFLOW};
use crate::{FactoryError, TARGET};

/// How far back [`Engine::fail`] looks for a failure it already recorded.
const RECENT_HISTORY: usize = 20;

/// How one delivery of a release ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionOutcome {
    Succeeded {
        execution: String,
    },
    Failed {
        execution: String,
        detail: String,
    },
    /// Shutdown stopped it; the next run resumes it.
    Interrupted {
        execution: String,
    },
}

pub(crate) struct Engine {
    pub env: Arc<StepEnv>,
    pub journal: Journal,
}

impl Engine {
    /// Runs (or resumes, or recognises as already finished) the execution of `release`.
    pub async fn execute(
        &self,
        chain_id: u64,
        release: Release,
        shutdown: &CancellationToken,
    ) -> Result<ExecutionOutcome, FactoryError> {
        let id = execution_id(&release);
        let set = release.operator_set;
        let begun = self
            .journal
            .begin(id.clone(), set, Context::new(chain_id, release))
            .await?;
        match begun.status {
            ExecutionStatus::Succeeded => {
                tracing::info!(target: TARGET, execution = %id, "already deployed; nothing to do");
                return Ok(ExecutionOutcome::Succeeded { execution: id });
            }
            ExecutionStatus::Failed => {
                let detail = begun
                    .error
                    .map(|e| format!("{}: {}: {}", e.step, e.error_type, e.message))
                    .unwrap_or_default();
                return Ok(ExecutionOutcome::Failed { execution: id, detail });
            }
            ExecutionStatus::Running => {}
        }
        let mut ctx = begun.context;
        if !begun.done.is_empty() {
            tracing::info!(target: TARGET, execution = %id, done = begun.done.len(), "resuming execution");
        }
        for spec in WORKFLOW.steps {
            if begun.done.contains(&spec.id) {
                continue;
            }
            let policy = self.env.config.retry(spec.retry);
            let mut failed = begun
                .failed_attempts
                .iter()
                .find(|(s, _)| *s == spec.id)
                .map_or(0, |(_, n)| *n);
            loop {
                let attempt = self.journal.start_attempt(&id, spec.id).await?;
                tracing::info!(target: TARGET, execution = %id, step = spec.id.as_str(), attempt, "step started");
                let started = Instant::now();
                let mut next = ctx.clone();
                let pause = self.env.config.crash_test_pause();
                let result = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(ExecutionOutcome::Interrupted { execution: id }),
                    result = async {
                        if let Some(pause) = pause {
                            tokio::time::sleep(pause).await;
                        }
                        let result = steps::run(spec.id, &mut next, &self.env).await;
                        if let Some(pause) = pause {
                            tokio::time::sleep(pause).await;
                        }
                        result
                    } => result,
                };
                let elapsed = started.elapsed();
                let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
                telemetry::step_finished(spec.id, result.is_ok(), elapsed);
                match result {
                    Ok(()) => {
                        self.journal
                            .finish_attempt(&id, spec.id, attempt, ms, Ok(&next))
                            .await?;
                        ctx = next;
                        break;
                    }
                    Err(error) => {
                        self.journal
                            .finish_attempt(&id, spec.id, attempt, ms, Err(&error))
                            .await?;
                        failed += 1;
                        if error.is_retryable() && failed < policy.max_attempts {
                            let delay = policy.delay_after(failed);
                            tracing::warn!(
                                target: TARGET, execution = %id, step = spec.id.as_str(), attempt,
                                %error, retry_in_ms = delay.as_millis() as u64, "step failed; retrying"
                            );
                            tokio::select! {
                                _ = shutdown.cancelled() => return Ok(ExecutionOutcome::Interrupted { execution: id }),
                                _ = tokio::time::sleep(delay) => {}
                            }
                            continue;
                        }
                        return self.fail(id, &ctx, spec.id, error).await;
                    }
                }
            }
        }
        self.journal.finish(&id, StepId::Register, None).await?;
        telemetry::execution_finished("succeeded");
        tracing::info!(
            target: TARGET, execution = %id, version = ctx.version.as_deref().unwrap_or(""),
            "release deployed and live"
        );
        Ok(ExecutionOutcome::Succeeded { execution: id })
    }

    /// A final failure: `live` is left where it was; the failure goes into the registry history
    /// first and the journal second, so a crash in between finds the record rather than loses it.
    async fn fail(
        &self,
        id: String,
        ctx: &Context,
        step: StepId,
        error: StepError,
    ) -> Result<ExecutionOutcome, FactoryError> {
        let detail = format!("{}: {}: {}", step.as_str(), error.error_type, error.message);
        tracing::error!(target: TARGET, execution = %id, step = step.as_str(), %error, "execution failed; live unchanged");
        record_failure(self.env.performers.as_ref(), ctx, &detail).await?;
        self.journal.finish(&id, step, Some(&error)).await?;
        telemetry::execution_finished("failed");
        Ok(ExecutionOutcome::Failed { execution: id, detail })
    }
}

/// Appends a final failure to the registry's release history unless a recent record already
/// says the same (a crash, or a repeated Step Functions task, between recording and finishing).
/// Shared by the embedded engine and the Step Functions failure state.
pub(crate) async fn record_failure(
    performers: &dyn PerformerBackend,
    ctx: &Context,
    detail: &str,
) -> Result<(), BackendError> {
    let record = ReleaseRecord {
        release_id: ctx.release.release_id,
        artifact_digest: ctx.image.as_ref().map(|i| i.digest),
        image_uri: ctx.image.clone(),
        function_version: ctx.version.clone(),
        deployed_at: now_rfc3339(),
        outcome: ReleaseOutcome::Failed,
        detail: Some(detail.to_string()),
    };
    let recorded = performers
        .release_history(ctx.set(), RECENT_HISTORY)
        .await?
        .iter()
        .any(|r| r.release_id == record.release_id && r.outcome == ReleaseOutcome::Failed && r.detail == record.detail);
    if !recorded {
        performers.append_release_record(ctx.set(), record).await?;
    }
    Ok(())
}
