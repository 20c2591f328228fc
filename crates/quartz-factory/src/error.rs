use std::fmt;

use quartz_monitor::MonitorError;
use quartz_store::{BackendError, StoreError};
use serde::{Deserialize, Serialize};

/// Errors of the factory as a component: configuration, the store, the outbox.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    #[error("invalid factory configuration: {key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("registry: {0}")]
    Registry(#[from] BackendError),
    #[error("release outbox: {0}")]
    Outbox(#[from] MonitorError),
    #[error("execution {0} not found")]
    UnknownExecution(String),
    #[error("rollback of {set}: {reason}")]
    Rollback { set: String, reason: String },
    #[error("the Lambda API failed during rollback: {0}")]
    Lambda(String),
}

/// How the engine treats a step's failure: a retryable one is attempted again with backoff
/// (within the step's retry policy); a final one ends the execution at once.
/// Rendered as Step Functions error names (`Quartz.Retryable`, `Quartz.Final`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorClass {
    Retryable,
    Final,
}

impl ErrorClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Retryable => "retryable",
            Self::Final => "final",
        }
    }

    /// The error name a Step Functions `Retry`/`Catch` clause matches on.
    pub fn state_machine_error(&self) -> &'static str {
        match self {
            Self::Retryable => "Quartz.Retryable",
            Self::Final => "Quartz.Final",
        }
    }
}

/// Why a step failed: its class, a stable error type (e.g. `Lambda.ResourceConflictException`,
/// `Smoke.Runtime.ExitError`, `Release.Downgrade`) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
pub struct StepError {
    pub class: ErrorClass,
    pub error_type: String,
    pub message: String,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.error_type, self.class.as_str(), self.message)
    }
}

impl StepError {
    pub fn retryable(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Retryable,
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    pub fn fatal(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class: ErrorClass::Final,
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class == ErrorClass::Retryable
    }
}

impl From<BackendError> for StepError {
    fn from(error: BackendError) -> Self {
        // The registry (SQLite or DynamoDB) briefly failing or contended is worth another attempt.
        Self::retryable("Registry", error.to_string())
    }
}

impl From<StoreError> for StepError {
    fn from(error: StoreError) -> Self {
        // The store is local; a busy or briefly failing SQLite is worth another attempt.
        Self::retryable("Store", error.to_string())
    }
}
