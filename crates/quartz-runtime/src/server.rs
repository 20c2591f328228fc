//! Wiring: the router, its tower layers, start-up recovery from the store, the idle reaper and
//! shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::serve::ListenerExt;
use quartz_oci::{ImageStore, Limits};
use quartz_store::Store;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::control as c;
use crate::ids::Arns;
use crate::invoke::{MAX_SYNC_REQUEST, invoke};
use crate::logs::Logs;
use crate::pool::Pools;
use crate::sandbox::Sandbox;
use crate::state::{AppState, SharedState};
use crate::{RuntimeConfig, RuntimeError, persist};

/// A running local runtime.
pub struct RuntimeHandle {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), RuntimeError>>,
    state: SharedState,
}

impl RuntimeHandle {
    /// Invokes this runtime's functions from the same process, without HTTP.
    pub fn local_invoker(&self) -> crate::invoke::LocalInvoker {
        crate::invoke::LocalInvoker {
            state: self.state.clone(),
        }
    }

    /// The endpoint URL to give the AWS SDK (`endpoint_url`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server stops (after the shutdown token is cancelled).
    pub async fn wait(self) -> Result<(), RuntimeError> {
        self.task
            .await
            .unwrap_or_else(|e| Err(RuntimeError::Serve(std::io::Error::other(e))))
    }

    /// Stops serving, stops every instance, and waits for both.
    pub async fn shutdown(self) -> Result<(), RuntimeError> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// Starts the runtime on `listener`, with its files under `data_dir/runtime` and function
/// definitions in `store`. Refuses to start without a working bubblewrap unless the config says
/// `unsandboxed`.
pub async fn serve(
    config: RuntimeConfig,
    data_dir: &Path,
    store: Store,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<RuntimeHandle, RuntimeError> {
    let sandbox = if config.unsandboxed {
        tracing::warn!(target: "quartz::runtime", "running functions WITHOUT a sandbox: they can read the host filesystem and the data dir");
        Sandbox::Unsandboxed
    } else {
        Sandbox::probe(&config.bwrap).await?
    };
    let root = data_dir.join("runtime");
    let images = ImageStore::new(root.join("images"), config.registry_policy(), Limits::default());
    let functions: BTreeMap<_, _> = persist::load_all(&store)
        .await?
        .into_iter()
        .map(|f| (f.name.clone(), f))
        .collect();
    let state: SharedState = Arc::new(AppState {
        arns: Arns {
            region: config.region.clone(),
            account_id: config.account_id.clone(),
        },
        config,
        store,
        images,
        functions: tokio::sync::RwLock::new(functions),
        pools: Pools::default(),
        logs: Logs::new(data_dir)?,
        sandbox,
        shutdown: shutdown.clone(),
    });
    // Updates interrupted by a restart are resumed.
    for record in state.functions.read().await.values().filter(|r| r.in_progress()) {
        state.start_prepare(
            record.name.clone(),
            record.latest.revision_id.clone(),
            record.latest.spec.clone(),
        );
    }
    let addr = listener.local_addr().map_err(RuntimeError::Serve)?;
    let reaper = tokio::spawn(reap(state.clone()));
    let app = router(state.clone());
    let stop = shutdown.clone();
    let handle_state = state.clone();
    let task = tokio::spawn(async move {
        tracing::info!(target: "quartz::runtime", %addr, "Lambda API listening");
        let served = axum::serve(listener.tap_io(nodelay), app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        reaper.abort();
        state.pools.clear();
        served.map_err(RuntimeError::Serve)
    });
    Ok(RuntimeHandle {
        addr,
        shutdown,
        task,
        state: handle_state,
    })
}

/// Sends small replies at once: with Nagle, a reply written in two parts waits for the peer's
/// delayed ACK (about 40 ms) whenever the client also writes its request in two parts.
pub(crate) fn nodelay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(target: "quartz::runtime", %error, "cannot set TCP_NODELAY");
    }
}

fn router(state: SharedState) -> Router {
    let fns = "/2015-03-31/functions";
    let control = Router::new()
        .route(fns, post(c::create_function).get(c::list_functions))
        .route(&format!("{fns}/"), get(c::list_functions))
        .route(
            &format!("{fns}/{{name}}"),
            get(c::get_function).delete(c::delete_function),
        )
        .route(
            &format!("{fns}/{{name}}/configuration"),
            get(c::get_configuration).put(c::update_configuration),
        )
        .route(&format!("{fns}/{{name}}/code"), put(c::update_code))
        .route(
            &format!("{fns}/{{name}}/versions"),
            post(c::publish_version).get(c::list_versions),
        )
        .route(
            &format!("{fns}/{{name}}/aliases"),
            post(c::create_alias).get(c::list_aliases),
        )
        .route(
            &format!("{fns}/{{name}}/aliases/{{alias}}"),
            get(c::get_alias).put(c::update_alias).delete(c::delete_alias),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            put(c::put_concurrency).delete(c::delete_concurrency),
        )
        .route("/2019-09-30/functions/{name}/concurrency", get(c::get_concurrency))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    // Invocations run up to the function's timeout (900 s at most), so no request timeout here.
    let invocations = Router::new().route(&format!("{fns}/{{name}}/invocations"), post(invoke));
    control
        .merge(invocations)
        .fallback(c::unknown_operation)
        .layer(DefaultBodyLimit::max(MAX_SYNC_REQUEST + 1))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn reap(state: SharedState) {
    let max_idle = Duration::from_secs(state.config.idle_timeout_secs);
    let mut tick = tokio::time::interval((max_idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(10)));
    loop {
        tick.tick().await;
        let reaped = state.pools.reap(max_idle);
        if reaped > 0 {
            tracing::debug!(target: "quartz::runtime", reaped, "stopped idle instances");
        }
    }
}
