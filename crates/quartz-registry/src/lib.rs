//! The performer registry HTTP API.
//!
//! Routes (compatible with the seed's `/performers` API, plus history, paging and ops routes):
//! `GET /performers`, `GET|PUT|DELETE /performers/{avs}/{opsetId}`,
//! `GET /performers/{avs}/{opsetId}/releases`, `GET /executions`, `GET /executions/{id}` (the
//! factory's journal), `GET /healthz`, `GET /metrics`, `GET /openapi.json`, and the operator's
//! web page at `GET /ui` (see [`ui`]).
//! Writes need `Authorization: Bearer <token>` whenever a token is configured.

mod auth;
mod error;
mod executions;
mod extract;
mod model;
mod openapi;
mod routes;
mod status;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use quartz_lambda_client::Client as LambdaClient;
use quartz_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use model::{FunctionStatusView, PerformerDetail, PutPerformerRequest};
pub use quartz_store::{BackendError, PerformerBackend};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the handlers share.
#[derive(Clone)]
pub struct RegistryState {
    pub(crate) store: Store,
    /// Where performer entries live: `store` unless [`RegistryState::with_performers`] says otherwise.
    pub(crate) performers: Arc<dyn PerformerBackend>,
    pub(crate) lambda: LambdaClient,
    pub(crate) token: Option<Arc<str>>,
    pub(crate) statuses: Arc<status::StatusCache>,
    pub(crate) metrics: PrometheusHandle,
}

impl RegistryState {
    /// `token`: when set, PUT and DELETE require it as a bearer token.
    pub fn new(store: Store, lambda: LambdaClient, token: Option<String>) -> Self {
        Self {
            performers: Arc::new(store.clone()),
            store,
            lambda,
            token: token.map(Arc::from),
            statuses: Arc::new(status::StatusCache::default()),
            metrics: quartz_telemetry::prometheus(),
        }
    }
}

impl RegistryState {
    /// Keeps performer entries in `backend` (DynamoDB on AWS) instead of the store; executions
    /// are still read from the store's journal.
    pub fn with_performers(mut self, backend: Arc<dyn PerformerBackend>) -> Self {
        self.performers = backend;
        self
    }
}

/// The registry's routes with all shared layers, ready to serve or to merge into `quartz up`.
pub fn router(state: RegistryState) -> Router {
    let api = Router::new()
        .route("/performers", get(routes::list_performers))
        .route(
            "/performers/{avs}/{opset_id}",
            get(routes::get_performer)
                .put(routes::put_performer)
                .delete(routes::delete_performer),
        )
        .route("/performers/{avs}/{opset_id}/releases", get(routes::release_history))
        .route("/executions", get(executions::list_executions))
        .route("/executions/{id}", get(executions::get_execution))
        .route("/healthz", get(routes::healthz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(ui::routes())
        .fallback(quartz_telemetry::json_fallback)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    quartz_telemetry::layered(api, quartz_telemetry::ServiceName("registry"), REQUEST_TIMEOUT)
}

/// Serves the registry on `listener` until `shutdown` is cancelled, finishing in-flight requests.
pub async fn serve(listener: TcpListener, state: RegistryState, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
