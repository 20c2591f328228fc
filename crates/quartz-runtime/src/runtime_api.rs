//! The Lambda Runtime API one instance's process talks to (`/2018-06-01/runtime/...`).
//!
//! Each instance gets its own listener, so a request id from another instance, or one already
//! answered, is simply unknown here and refused with 400 `InvalidRequestID`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};

/// Lambda's limit for a synchronous response payload.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// One invocation handed to the process through `/next`.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub invoked_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub reply: oneshot::Sender<Reply>,
}

#[derive(Debug)]
pub enum Reply {
    Response(Bytes),
    Error { body: Bytes, error_type: Option<String> },
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Ready,
    InitFailed { body: Bytes, error_type: Option<String> },
}

struct InFlight {
    request_id: String,
    reply: oneshot::Sender<Reply>,
}

pub struct Shared {
    invocations: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    current: Mutex<Option<InFlight>>,
    pub phase: watch::Sender<Phase>,
}

impl Shared {
    pub fn new(invocations: mpsc::Receiver<Invocation>) -> Arc<Self> {
        Arc::new(Self {
            invocations: tokio::sync::Mutex::new(invocations),
            current: Mutex::new(None),
            phase: watch::Sender::new(Phase::Starting),
        })
    }

    fn take_current(&self, request_id: &str) -> Option<oneshot::Sender<Reply>> {
        let mut current = self.current.lock().ok()?;
        if current.as_ref().is_some_and(|c| c.request_id == request_id) {
            current.take().map(|c| c.reply)
        } else {
            None
        }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        // One byte over the limit, so an oversized response is seen and reported as such.
        .layer(DefaultBodyLimit::max(MAX_RESPONSE_BYTES + 1))
        .with_state(shared)
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "errorType": error_type, "errorMessage": message })),
    )
        .into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

/// Long poll without a timeout: returns when the pool hands this instance an invocation.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.phase.send_if_modified(|phase| {
        let starting = *phase == Phase::Starting;
        if starting {
            *phase = Phase::Ready;
        }
        starting
    });
    let invocation = {
        let mut invocations = shared.invocations.lock().await;
        invocations.recv().await
    };
    let Some(invocation) = invocation else {
        return runtime_error(StatusCode::GONE, "InstanceStopped", "this instance is shutting down");
    };
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("lambda-runtime-aws-request-id", &invocation.request_id);
    put("lambda-runtime-deadline-ms", &invocation.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &invocation.invoked_arn);
    put("lambda-runtime-trace-id", &invocation.trace_id);
    if let Some(context) = &invocation.client_context {
        put("lambda-runtime-client-context", context);
    }
    put("content-type", "application/json");
    if let Ok(mut current) = shared.current.lock() {
        // A process asking for the next event without answering the current one abandons it;
        // dropping the sender tells the waiting invoker.
        *current = Some(InFlight {
            request_id: invocation.request_id.clone(),
            reply: invocation.reply,
        });
    }
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(reply) = shared.take_current(&id) else {
        return runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
    };
    match body {
        Ok(body) if body.len() <= MAX_RESPONSE_BYTES => {
            let _ = reply.send(Reply::Response(body));
            accepted()
        }
        Ok(_) | Err(_) => {
            let _ = reply.send(Reply::TooLarge);
            runtime_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            )
        }
    }
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(reply) = shared.take_current(&id) else {
        return runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
    };
    let body = body.unwrap_or_else(|_| Bytes::from_static(b"{\"errorMessage\":\"error report too large\"}"));
    let _ = reply.send(Reply::Error {
        body,
        error_type: error_type(&headers),
    });
    accepted()
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = body.unwrap_or_default();
    let changed = shared.phase.send_if_modified(|phase| {
        let starting = *phase == Phase::Starting;
        if starting {
            *phase = Phase::InitFailed {
                body: body.clone(),
                error_type: error_type(&headers),
            };
        }
        starting
    });
    if changed {
        accepted()
    } else {
        runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "init/error is only valid during init",
        )
    }
}
