//! The engine's journal in SQLite (schema: store migration 4): one row per execution with the
//! context its finished steps produced, and one row per step attempt. A step counts as done
//! once an attempt of it `succeeded`; its output is committed in the same transaction, so a
//! restart resumes at the first step without a succeeded attempt. An attempt still `running`
//! when the process died is marked `interrupted` and does not count against the retry budget.

use std::collections::BTreeSet;

use quartz_core::OperatorSet;
use quartz_store::{Store, StoreError, now_rfc3339};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::StepError;
use crate::workflow::StepId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
}

impl ExecutionStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Running, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// Where and why an execution failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionFailure {
    pub step: String,
    pub error_type: String,
    pub message: String,
}

/// One execution, as listed by `GET /executions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub id: String,
    pub avs_address: String,
    pub operator_set_id: u32,
    pub release_id: u64,
    pub status: ExecutionStatus,
    /// The step running, or the last one that ran.
    pub current_step: Option<String>,
    pub error: Option<ExecutionFailure>,
    pub started_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: u32,
    /// `running`, `succeeded`, `failed` or `interrupted` (the process stopped during it).
    pub outcome: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub error_class: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    pub step: String,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Sum of the attempts' durations.
    pub duration_ms: u64,
    pub attempts: Vec<AttemptView>,
}

/// One execution with its steps, as shown by `GET /executions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    pub steps: Vec<StepView>,
    /// What the finished steps produced (chosen image, version, ...).
    pub context: serde_json::Value,
}

/// What [`Journal::begin`] found or created.
pub(crate) struct Begun {
    pub status: ExecutionStatus,
    pub context: Context,
    pub error: Option<ExecutionFailure>,
    pub done: BTreeSet<StepId>,
    /// Failed attempts so far per step (interrupted ones excluded).
    pub failed_attempts: Vec<(StepId, u32)>,
}

#[derive(Clone)]
pub struct Journal {
    store: Store,
}

const SUMMARY_COLUMNS: &str = "id, avs_address, operator_set_id, release_id, status, current_step, error_step, \
     error_type, error_message, started_at, updated_at, finished_at";

fn corrupt(column: &'static str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        column,
        reason: reason.to_string(),
    }
}

fn sql_u64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|e| corrupt("integer", e))
}

impl Journal {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Creates the execution unless it exists; either way returns its state. Interrupted
    /// attempts (the process died during them) are closed here.
    pub(crate) async fn begin(&self, id: String, set: OperatorSet, context: Context) -> Result<Begun, StoreError> {
        let json = serde_json::to_string(&context).map_err(|e| corrupt("context", e))?;
        let release_id = sql_u64(context.release.release_id)?;
        self.store
            .write(move |tx| {
                let now = now_rfc3339();
                tx.execute(
                    "INSERT OR IGNORE INTO factory_executions
                         (id, avs_address, operator_set_id, release_id, status, context, started_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?6)",
                    params![id, set.avs.to_string(), set.id, release_id, json, now],
                )?;
                tx.execute(
                    "UPDATE factory_step_attempts SET outcome = 'interrupted', finished_at = ?2
                     WHERE execution_id = ?1 AND outcome = 'running'",
                    params![id, now],
                )?;
                let (status, context, error): (String, String, Option<ExecutionFailure>) = tx.query_row(
                    "SELECT status, context, error_step, error_type, error_message FROM factory_executions WHERE id = ?1",
                    params![id],
                    |row| {
                        let error = match row.get::<_, Option<String>>(2)? {
                            Some(step) => Some(ExecutionFailure {
                                step,
                                error_type: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                                message: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                            }),
                            None => None,
                        };
                        Ok((row.get(0)?, row.get(1)?, error))
                    },
                )?;
                let status = ExecutionStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?;
                let context: Context = serde_json::from_str(&context).map_err(|e| corrupt("context", e))?;
                let mut done = BTreeSet::new();
                let mut failed_attempts = Vec::new();
                let mut stmt = tx.prepare_cached(
                    "SELECT step, SUM(outcome = 'succeeded'), SUM(outcome = 'failed')
                     FROM factory_step_attempts WHERE execution_id = ?1 GROUP BY step",
                )?;
                let rows = stmt.query_map(params![id], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                })?;
                for row in rows {
                    let (step, succeeded, failed) = row?;
                    let step = StepId::parse(&step).ok_or_else(|| corrupt("step", &step))?;
                    if succeeded > 0 {
                        done.insert(step);
                    }
                    failed_attempts.push((step, u32::try_from(failed).unwrap_or(u32::MAX)));
                }
                Ok(Begun {
                    status,
                    context,
                    error,
                    done,
                    failed_attempts,
                })
            })
            .await
    }

    /// Records the start of an attempt; returns its number.
    pub(crate) async fn start_attempt(&self, id: &str, step: StepId) -> Result<u32, StoreError> {
        let id = id.to_string();
        self.store
            .write(move |tx| {
                let now = now_rfc3339();
                let attempt: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(attempt), 0) + 1 FROM factory_step_attempts
                     WHERE execution_id = ?1 AND step = ?2",
                    params![id, step.as_str()],
                    |row| row.get(0),
                )?;
                tx.execute(
                    "INSERT INTO factory_step_attempts (execution_id, step, attempt, started_at, outcome)
                     VALUES (?1, ?2, ?3, ?4, 'running')",
                    params![id, step.as_str(), attempt, now],
                )?;
                tx.execute(
                    "UPDATE factory_executions SET current_step = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, step.as_str(), now],
                )?;
                u32::try_from(attempt).map_err(|e| corrupt("attempt", e))
            })
            .await
    }

    /// Ends an attempt. On success the step's output (`context`) is committed with it, which is
    /// what makes the step count as done after a restart.
    pub(crate) async fn finish_attempt(
        &self,
        id: &str,
        step: StepId,
        attempt: u32,
        duration_ms: u64,
        result: Result<&Context, &StepError>,
    ) -> Result<(), StoreError> {
        let id = id.to_string();
        let (context, error) = match result {
            Ok(context) => (
                Some(serde_json::to_string(context).map_err(|e| corrupt("context", e))?),
                None,
            ),
            Err(error) => (None, Some(error.clone())),
        };
        let duration = sql_u64(duration_ms)?;
        self.store
            .write(move |tx| {
                let now = now_rfc3339();
                let outcome = if error.is_some() { "failed" } else { "succeeded" };
                tx.execute(
                    "UPDATE factory_step_attempts SET outcome = ?4, finished_at = ?5, duration_ms = ?6,
                         error_class = ?7, error_type = ?8, error_message = ?9
                     WHERE execution_id = ?1 AND step = ?2 AND attempt = ?3",
                    params![
                        id,
                        step.as_str(),
                        attempt,
                        outcome,
                        now,
                        duration,
                        error.as_ref().map(|e| e.class.as_str()),
                        error.as_ref().map(|e| e.error_type.as_str()),
                        error.as_ref().map(|e| e.message.as_str()),
                    ],
                )?;
                if let Some(context) = context {
                    tx.execute(
                        "UPDATE factory_executions SET context = ?2, updated_at = ?3 WHERE id = ?1",
                        params![id, context, now],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// Ends the execution: `failure` is `None` for success.
    pub(crate) async fn finish(&self, id: &str, step: StepId, failure: Option<&StepError>) -> Result<(), StoreError> {
        let id = id.to_string();
        let failure = failure.cloned();
        self.store
            .write(move |tx| {
                let now = now_rfc3339();
                let status = if failure.is_some() {
                    ExecutionStatus::Failed
                } else {
                    ExecutionStatus::Succeeded
                };
                tx.execute(
                    "UPDATE factory_executions SET status = ?2, current_step = ?3, error_step = ?4, error_type = ?5,
                         error_message = ?6, updated_at = ?7, finished_at = ?7
                     WHERE id = ?1",
                    params![
                        id,
                        status.as_str(),
                        step.as_str(),
                        failure.as_ref().map(|_| step.as_str()),
                        failure.as_ref().map(|e| e.error_type.as_str()),
                        failure.as_ref().map(|e| e.message.as_str()),
                        now,
                    ],
                )?;
                Ok(())
            })
            .await
    }

    /// Executions, newest first, optionally of one status or one operator set.
    pub async fn list(
        &self,
        status: Option<ExecutionStatus>,
        set: Option<OperatorSet>,
        limit: usize,
    ) -> Result<Vec<ExecutionSummary>, StoreError> {
        self.store
            .read(move |tx| {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} FROM factory_executions
                     WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR (avs_address = ?2 AND operator_set_id = ?3))
                     ORDER BY seq DESC LIMIT ?4"
                ))?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                stmt.query_map(
                    params![
                        status.map(|s| s.as_str()),
                        set.map(|s| s.avs.to_string()),
                        set.map(|s| s.id),
                        limit
                    ],
                    |row| Ok(summary_from_row(row)),
                )?
                .collect::<Result<Result<Vec<_>, _>, _>>()?
            })
            .await
    }

    pub async fn get(&self, id: &str) -> Result<Option<ExecutionDetail>, StoreError> {
        let id = id.to_string();
        self.store.read(move |tx| detail_tx(tx, &id)).await
    }
}

fn detail_tx(tx: &Transaction<'_>, id: &str) -> Result<Option<ExecutionDetail>, StoreError> {
    let found = tx
        .query_row(
            &format!("SELECT {SUMMARY_COLUMNS}, context FROM factory_executions WHERE id = ?1"),
            params![id],
            |row| Ok((summary_from_row(row), row.get::<_, String>(12)?)),
        )
        .optional()?;
    let Some((summary, context)) = found else {
        return Ok(None);
    };
    let summary = summary?;
    let context = serde_json::from_str(&context).map_err(|e| corrupt("context", e))?;
    let mut stmt = tx.prepare_cached(
        "SELECT step, attempt, outcome, started_at, finished_at, duration_ms, error_class, error_type, error_message
         FROM factory_step_attempts WHERE execution_id = ?1 ORDER BY started_at, attempt",
    )?;
    let attempts = stmt
        .query_map(params![id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                AttemptView {
                    attempt: row.get(1)?,
                    outcome: row.get(2)?,
                    started_at: row.get(3)?,
                    finished_at: row.get(4)?,
                    duration_ms: row.get::<_, Option<i64>>(5)?.and_then(|d| u64::try_from(d).ok()),
                    error_class: row.get(6)?,
                    error_type: row.get(7)?,
                    error_message: row.get(8)?,
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let steps = StepId::ALL
        .into_iter()
        .map(|step| {
            let attempts: Vec<AttemptView> = attempts
                .iter()
                .filter(|(s, _)| s == step.as_str())
                .map(|(_, a)| a.clone())
                .collect();
            let status = match attempts.last().map(|a| a.outcome.as_str()) {
                None => "pending",
                Some("succeeded") => "succeeded",
                Some("running") | Some("interrupted") => "running",
                Some(_) if summary.status == ExecutionStatus::Failed => "failed",
                Some(_) => "running",
            };
            StepView {
                step: step.as_str().to_string(),
                status: status.to_string(),
                started_at: attempts.first().map(|a| a.started_at.clone()),
                finished_at: attempts.last().and_then(|a| a.finished_at.clone()),
                duration_ms: attempts.iter().filter_map(|a| a.duration_ms).sum(),
                attempts,
            }
        })
        .collect();
    Ok(Some(ExecutionDetail {
        summary,
        steps,
        context,
    }))
}

fn summary_from_row(row: &Row<'_>) -> Result<ExecutionSummary, StoreError> {
    let status: String = row.get(4)?;
    let error = match row.get::<_, Option<String>>(6)? {
        Some(step) => Some(ExecutionFailure {
            step,
            error_type: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
            message: row.get::<_, Option<String>>(8)?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(ExecutionSummary {
        id: row.get(0)?,
        avs_address: row.get(1)?,
        operator_set_id: row.get(2)?,
        release_id: u64::try_from(row.get::<_, i64>(3)?).map_err(|e| corrupt("release_id", e))?,
        status: ExecutionStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        current_step: row.get(5)?,
        error,
        started_at: row.get(9)?,
        updated_at: row.get(10)?,
        finished_at: row.get(11)?,
    })
}
