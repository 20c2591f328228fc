use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quartz_store::StoreError;

use crate::BackendError;

/// Every error the API returns; each maps to a status and a JSON `{"error": ...}` body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing credentials: send Authorization: Bearer <token> (the token is in the data dir's registry.token)")]
    Unauthorized,
    #[error("the bearer token is not valid for this registry")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the Lambda API could not be reached to check the function: {0}")]
    LambdaUnavailable(String),
    #[error("{}", store_message(.0))]
    Store(#[from] StoreError),
    #[error("{}", backend_message(.0))]
    Backend(#[from] BackendError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::LambdaUnavailable(_) => StatusCode::BAD_GATEWAY,
            Self::Store(StoreError::RevisionMismatch { .. }) => StatusCode::PRECONDITION_FAILED,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Backend(BackendError::RevisionMismatch { .. }) => StatusCode::PRECONDITION_FAILED,
            Self::Backend(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(target: "quartz::registry", error = %self, "request failed");
        }
        let mut response = quartz_telemetry::json_error(status, self.to_string());
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

fn store_message(err: &StoreError) -> String {
    match err {
        StoreError::RevisionMismatch { .. } => format!("If-Match: {err}; read the entry again and retry"),
        other => format!("store error: {other}"),
    }
}

fn backend_message(err: &BackendError) -> String {
    match err {
        BackendError::RevisionMismatch { .. } => format!("If-Match: {err}; read the entry again and retry"),
        other => format!("store error: {other}"),
    }
}
