use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Failures of the runtime itself (start-up, store), as opposed to answers of the Lambda API.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "bubblewrap is not usable ({0}); install it (scripts/setup.sh) or set runtime.unsandboxed / pass --unsandboxed to run functions without isolation"
    )]
    SandboxUnavailable(String),
    #[error("store: {0}")]
    Store(#[from] quartz_store::StoreError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("serving the Lambda API: {0}")]
    Serve(std::io::Error),
    #[error("invalid function name {0:?}")]
    FunctionName(String),
}

/// The Lambda error types the local runtime answers with, with their HTTP status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    ResourceNotFound,
    ResourceConflict,
    InvalidParameterValue,
    PreconditionFailed,
    RequestTooLarge,
    TooManyRequests,
    InvalidRequestContent,
    UnsupportedMediaType,
    Service,
    UnknownOperation,
}

impl ErrorType {
    pub fn name(self) -> &'static str {
        match self {
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::ResourceConflict => "ResourceConflictException",
            Self::InvalidParameterValue => "InvalidParameterValueException",
            Self::PreconditionFailed => "PreconditionFailedException",
            Self::RequestTooLarge => "RequestTooLargeException",
            Self::TooManyRequests => "TooManyRequestsException",
            Self::InvalidRequestContent => "InvalidRequestContentException",
            Self::UnsupportedMediaType => "UnsupportedMediaTypeException",
            Self::Service => "ServiceException",
            Self::UnknownOperation => "UnknownOperationException",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::ResourceNotFound | Self::UnknownOperation => StatusCode::NOT_FOUND,
            Self::ResourceConflict => StatusCode::CONFLICT,
            Self::InvalidParameterValue | Self::InvalidRequestContent => StatusCode::BAD_REQUEST,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Service => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer of the Lambda API: the type in `x-amzn-errortype` (which the AWS SDK reads
/// to pick the error variant) and `{"Type","message"}` in the body, as Lambda sends them.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
    pub reason: Option<&'static str>,
}

impl ApiError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            reason: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorType::InvalidParameterValue, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorType::ResourceNotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorType::ResourceConflict, message)
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Service, message)
    }
}

impl From<quartz_store::StoreError> for ApiError {
    fn from(error: quartz_store::StoreError) -> Self {
        tracing::error!(target: "quartz::runtime", %error, "store failure");
        Self::service(format!("the runtime's store failed: {error}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = if self.kind.status().is_server_error() {
            "Service"
        } else {
            "User"
        };
        let mut body = serde_json::json!({ "Type": kind, "message": self.message });
        if let Some(reason) = self.reason {
            body["Reason"] = reason.into();
        }
        let mut response = (self.kind.status(), axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert("x-amzn-errortype", HeaderValue::from_static(self.kind.name()));
        response
    }
}
