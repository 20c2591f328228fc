//! Errors: why the adapter cannot start ([`AdapterError`]) and why one task failed
//! ([`TaskError`]), with the HTTP status and gRPC code each task error maps to.

use axum::http::StatusCode;
use tonic::Code;

/// Why the adapter cannot start. Configuration errors name the key (and its variable).
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("invalid {key} = {value:?}: {reason}")]
    Config {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "{present} is set but {missing} is not: single-performer mode needs both \
         (unset both to route every AVS through the registry)"
    )]
    MissingVariable {
        present: &'static str,
        missing: &'static str,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("multi-AVS mode routes through the registry, but no registry store was given")]
    NoStore,
    #[error("cannot build the HTTP client for {what}: {reason}")]
    HttpClient { what: &'static str, reason: String },
    #[error("cannot serve: {0}")]
    Serve(#[source] std::io::Error),
}

/// Why one task failed. Every variant carries a message that says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The request is malformed: 400 / INVALID_ARGUMENT.
    #[error("{0}")]
    BadRequest(String),
    /// The AVS has several performers and the request did not pick one: 400 / INVALID_ARGUMENT.
    #[error("{0}")]
    Ambiguous(String),
    /// The payload exceeds Lambda's synchronous limit: 413 / RESOURCE_EXHAUSTED, never invoked.
    #[error("{0}")]
    TooLarge(String),
    /// No performer serves the request: 404 / NOT_FOUND.
    #[error("{0}")]
    NotFound(String),
    /// The function ran and failed: 502 / INTERNAL, with the function's own type and message.
    #[error("{error_type}: {message}")]
    Function { error_type: String, message: String },
    /// The function or the task deadline timed out: 504 / DEADLINE_EXCEEDED.
    #[error("{message}")]
    Timeout {
        error_type: Option<String>,
        message: String,
    },
    /// Throttled (429) until the deadline left no room for another attempt: 503 / UNAVAILABLE.
    #[error("{0}")]
    Throttled(String),
    /// The platform (or the registry) could not be reached or is not ready: 503 / UNAVAILABLE.
    #[error("{0}")]
    Unavailable(String),
    /// The platform refused the call, or the function's answer cannot be mapped: 502 / INTERNAL.
    #[error("{0}")]
    Upstream(String),
}

impl TaskError {
    /// The `kind` label on error metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Ambiguous(_) => "ambiguous",
            Self::TooLarge(_) => "too_large",
            Self::NotFound(_) => "not_found",
            Self::Function { .. } => "function_error",
            Self::Timeout { .. } => "timeout",
            Self::Throttled(_) => "throttled",
            Self::Unavailable(_) => "unavailable",
            Self::Upstream(_) => "upstream",
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::Ambiguous(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Function { .. } | Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Throttled(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn grpc_code(&self) -> Code {
        match self {
            Self::BadRequest(_) | Self::Ambiguous(_) => Code::InvalidArgument,
            Self::TooLarge(_) => Code::ResourceExhausted,
            Self::NotFound(_) => Code::NotFound,
            Self::Function { .. } | Self::Upstream(_) => Code::Internal,
            Self::Timeout { .. } => Code::DeadlineExceeded,
            Self::Throttled(_) | Self::Unavailable(_) => Code::Unavailable,
        }
    }

    /// The function's `errorType`, for function errors and function timeouts.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Function { error_type, .. } => Some(error_type),
            Self::Timeout { error_type, .. } => error_type.as_deref(),
            _ => None,
        }
    }

    /// The message shown to HTTP callers: the function's `errorMessage` unchanged for function
    /// errors, the full description otherwise.
    pub fn message(&self) -> String {
        match self {
            Self::Function { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

impl From<TaskError> for tonic::Status {
    fn from(err: TaskError) -> Self {
        let message = match &err {
            TaskError::Function { error_type, message } => format!("function error {error_type}: {message}"),
            other => other.to_string(),
        };
        let mut status = tonic::Status::new(err.grpc_code(), message);
        if let Some(kind) = err.error_type()
            && let Ok(value) = kind.parse()
        {
            status.metadata_mut().insert(crate::grpc::ERROR_TYPE_KEY, value);
        }
        status
    }
}
