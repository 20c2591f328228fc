use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The `service` label on HTTP metrics (`registry`, `adapter`, `runtime`).
#[derive(Debug, Clone, Copy)]
pub struct ServiceName(pub &'static str);

/// A JSON error body `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

/// A fallback for unknown routes that answers in JSON like every other error.
pub async fn json_fallback(request: Request) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

/// Wraps a router with the layers every Quartz server has: request ids (generated or
/// propagated), a tracing span per request, request metrics, a JSON 500 for panics, and a
/// request timeout answered with a JSON 503 (set `timeout` above any legitimate request).
pub fn layered(router: Router, service: ServiceName, timeout: Duration) -> Router {
    router
        .layer(middleware::from_fn(move |req, next| record_metrics(service, req, next)))
        .layer(middleware::from_fn(move |req, next| time_limit(timeout, req, next)))
        .layer(middleware::from_fn(json_for_bare_errors))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http())
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                })),
        )
}

/// Errors the framework answers without a body (405 for a known path with another method, for
/// one) get a JSON `error` like every other error; the `Allow` header is kept.
async fn json_for_bare_errors(request: Request<Body>, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(axum::http::header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let message = match allow.as_ref().and_then(|v| v.to_str().ok()) {
        Some(allowed) => format!("{method} is not allowed on {path}; use {allowed}"),
        // axum adds `Allow` after this layer; the client still gets it.
        None if status == StatusCode::METHOD_NOT_ALLOWED => {
            format!("{method} is not allowed on {path}; see the Allow header")
        }
        None => format!("{reason}: {method} {path}"),
    };
    let mut json = json_error(status, message);
    if let Some(allow) = allow {
        json.headers_mut().insert(axum::http::header::ALLOW, allow);
    }
    json
}

/// The server, not the client, was too slow: 503 with a JSON body (408 would blame the client).
async fn time_limit(limit: Duration, request: Request<Body>, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request did not complete within {} s; try again", limit.as_secs()),
        ),
    }
}

/// Methods outside HTTP's standard set share one label, so that clients cannot create
/// unbounded metric series by inventing method names.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

async fn record_metrics(service: ServiceName, request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(request.method()).to_string();
    let response = next.run(request).await;
    let labels = [
        ("service", service.0.to_string()),
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("quartz_http_requests_total", &labels).increment(1);
    metrics::histogram!("quartz_http_request_duration_seconds", &labels[..3]).record(started.elapsed().as_secs_f64());
    response
}
