//! Wiring: one listener for gRPC (HTTP/2, `application/grpc`) and the HTTP API, and graceful
//! shutdown.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use quartz_store::Store;
use quartz_telemetry::ServiceName;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::adapter::Adapter;
use crate::config::{Backend, Mode, Settings};
use crate::grpc::PerformerGrpc;
use crate::invoke::{Invoker, invoke_client};
use crate::proto::health::health_server::HealthServer;
use crate::proto::performer::performer_service_server::PerformerServiceServer;
use crate::routing::{RegistryCache, Routing, Target};
use crate::{AdapterConfig, AdapterError, http};

/// gRPC messages up to this size are decoded, so that an oversized payload gets a clear
/// RESOURCE_EXHAUSTED from the adapter rather than a codec error.
const GRPC_MAX_MESSAGE: usize = 4 * crate::event::MAX_SYNC_PAYLOAD;

/// What the adapter can share with the rest of `quartz up`.
#[derive(Clone, Default)]
pub struct AdapterDeps {
    /// The registry store; required in multi-AVS mode.
    pub store: Option<Store>,
    /// A Lambda client to take endpoint, region and credentials from; built from
    /// `AdapterConfig::lambda` when absent. The adapter invokes with its own copy (no SDK
    /// retries, read timeout above the function timeout).
    pub lambda: Option<aws_sdk_lambda::Client>,
    /// The runtime in this process (`quartz up`): tasks are invoked on it directly, with no
    /// HTTP hop; it takes precedence over the configured backend.
    pub local_runtime: Option<quartz_runtime::LocalInvoker>,
}

/// Serves the adapter on `listener` until `shutdown` is cancelled, then stops accepting and
/// lets in-flight tasks finish for up to `shutdown_grace_secs`.
pub async fn serve(
    config: AdapterConfig,
    deps: AdapterDeps,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let settings = config.validate()?;
    // Installs the recorder (once per process) before the first task records anything.
    quartz_telemetry::prometheus();
    let adapter = Arc::new(build(&settings, deps).await?);
    let app = router(adapter, settings.read_timeout() + Duration::from_secs(5));
    let addr = listener.local_addr().map_err(AdapterError::Serve)?;
    match &settings.mode {
        Mode::Single { set, function } => {
            tracing::info!(target: "quartz::adapter", %addr, operator_set = %set, %function, "serving one performer")
        }
        Mode::Registry => tracing::info!(target: "quartz::adapter", %addr, "serving every registered performer"),
    }
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future();
    let grace = settings.shutdown_grace;
    let expired = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served.map_err(AdapterError::Serve)?,
        () = expired => {
            tracing::warn!(target: "quartz::adapter", ?grace, "tasks still running after the shutdown grace period; stopping");
        }
    }
    tracing::info!(target: "quartz::adapter", "stopped");
    Ok(())
}

async fn build(settings: &Settings, deps: AdapterDeps) -> Result<Adapter, AdapterError> {
    let routing = match &settings.mode {
        Mode::Single { set, function } => Routing::Single(Target {
            set: *set,
            function: function.clone(),
        }),
        Mode::Registry => Routing::Registry(RegistryCache::new(
            deps.store.ok_or(AdapterError::NoStore)?,
            settings.registry_refresh,
        )),
    };
    let invoker = match (&settings.backend, deps.local_runtime) {
        (_, Some(local)) => Invoker::InProcess(local),
        (Backend::Lambda(lambda), None) => {
            let base = match deps.lambda {
                Some(client) => client,
                None => quartz_lambda_client::build_client(lambda, settings.read_timeout()).await,
            };
            Invoker::Lambda(invoke_client(&base, settings.read_timeout()))
        }
        (Backend::Gateway { task_url }, None) => Invoker::Gateway {
            http: http_client("API Gateway")?,
            task_url: task_url.clone(),
        },
        (Backend::LocalRuntime { endpoint }, None) => Invoker::LocalRuntime {
            http: http_client("the local runtime")?,
            endpoint: endpoint.clone(),
        },
    };
    Ok(Adapter::new(settings, routing, invoker))
}

fn http_client(what: &'static str) -> Result<reqwest::Client, AdapterError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| AdapterError::HttpClient {
            what,
            reason: e.to_string(),
        })
}

/// The HTTP routes (with the shared telemetry layers) and the gRPC services on one router.
fn router(adapter: Arc<Adapter>, request_timeout: Duration) -> Router {
    let api = Router::new()
        .route("/perform", post(http::perform))
        .route("/health", get(http::health))
        .route("/metrics", get(http::metrics))
        .with_state(adapter.clone());
    let api = quartz_telemetry::layered(api, ServiceName("adapter"), request_timeout);
    let grpc = PerformerGrpc { adapter };
    let services = tonic::service::Routes::new(
        PerformerServiceServer::new(grpc.clone()).max_decoding_message_size(GRPC_MAX_MESSAGE),
    )
    .add_service(HealthServer::new(grpc))
    .into_axum_router()
    .layer(axum::middleware::map_response(decode_errors_are_invalid_argument));
    api.merge(services).fallback(fallback)
}

/// tonic answers a request message it cannot decode with INTERNAL; the bytes came from the
/// caller, so it is INVALID_ARGUMENT. A failed decode ends the call before any handler runs, so
/// its status is in the (trailers-only) response headers.
async fn decode_errors_are_invalid_argument(mut response: Response) -> Response {
    let headers = response.headers();
    let is_internal = headers.get("grpc-status").is_some_and(|v| v == "13");
    let is_decode = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.starts_with("failed%20to%20decode") || m.starts_with("failed to decode"));
    if is_internal && is_decode {
        let invalid = axum::http::HeaderValue::from_static("3");
        response.headers_mut().insert("grpc-status", invalid);
    }
    response
}

/// Unknown routes: gRPC's UNIMPLEMENTED for `application/grpc` requests, JSON 404 otherwise.
async fn fallback(request: Request) -> Response {
    let is_grpc = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if is_grpc {
        return tonic::Status::unimplemented(format!("no gRPC method {}", request.uri().path())).into_http();
    }
    quartz_telemetry::json_fallback(request).await
}
