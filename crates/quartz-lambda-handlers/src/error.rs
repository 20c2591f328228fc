use lambda_runtime::Diagnostic;
use quartz_factory::{ErrorClass, StepError};

/// The error type a bad event gets: never retried by the state machine (only
/// `Quartz.Retryable` is), and caught by its failure state like any other.
pub const INVALID_INPUT: &str = "Quartz.InvalidInput";

/// Everything a handler can fail with. On the Lambda API each becomes `{errorType,
/// errorMessage}` ([`Diagnostic`]); [`HandlerError::error_type`] says which type.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("QUARTZ_HANDLER is {0:?}; expected monitor, factory-step or registry-api")]
    UnknownHandler(String),
    /// A setting the function's environment gives wrongly or not at all.
    #[error("environment variable {name}: {reason}")]
    Env { name: &'static str, reason: String },
    /// An event this handler cannot take (unknown step, malformed context, not a proxy event).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A factory step failed; `detail` reads `{step}: {errorType}: {message}`, as the embedded
    /// engine records it.
    #[error("{detail}")]
    Step { class: ErrorClass, detail: String },
    #[error("factory: {0}")]
    Factory(#[from] quartz_factory::FactoryError),
    #[error("monitor: {0}")]
    Monitor(#[from] quartz_monitor::MonitorError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] quartz_aws::CheckpointError),
    #[error("registry: {0}")]
    Registry(#[from] quartz_aws::RegistryError),
    #[error("execution name: {0}")]
    Stack(#[from] quartz_aws_stack::StackError),
    #[error("Step Functions {op}: {code}: {message}")]
    StepFunctions {
        op: &'static str,
        code: String,
        message: String,
    },
}

impl HandlerError {
    pub fn step(step: &str, error: StepError) -> Self {
        Self::Step {
            class: error.class,
            detail: format!("{step}: {}: {}", error.error_type, error.message),
        }
    }

    /// The `errorType` Lambda reports and Step Functions matches: `Quartz.Retryable` for a
    /// step worth retrying (the state machine's `Retry`), `Quartz.Final` for one that is not,
    /// and a type per kind for the rest (all caught by the state machine's `Catch`).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Step { class, .. } => class.state_machine_error(),
            Self::InvalidInput(_) => INVALID_INPUT,
            Self::UnknownHandler(_) | Self::Env { .. } => "Quartz.Configuration",
            Self::Factory(_) => "Quartz.Factory",
            Self::Monitor(_) | Self::Checkpoint(_) | Self::Stack(_) | Self::StepFunctions { .. } => "Quartz.Monitor",
            Self::Registry(_) => "Quartz.Registry",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}
