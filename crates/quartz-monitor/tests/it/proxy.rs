//! A JSON-RPC proxy in front of anvil that behaves like a hosted provider: it refuses
//! `eth_getLogs` ranges and results over a limit (with the error shapes providers use), can
//! rate-limit, slow down, or hide methods.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct Limits {
    pub max_range: Option<u64>,
    pub max_results: Option<usize>,
    /// Every n-th `eth_getLogs` gets a 429.
    pub rate_limit_every: Option<u64>,
    pub delay: Duration,
    /// Methods answered with -32601 (method not found).
    pub hidden_methods: Vec<&'static str>,
}

#[derive(Default)]
pub struct Counters {
    pub logs_requests: AtomicU64,
    pub range_refusals: AtomicU64,
    pub result_refusals: AtomicU64,
    pub rate_limited: AtomicU64,
}

struct Shared {
    upstream: String,
    limits: Limits,
    counters: Arc<Counters>,
    http: reqwest::Client,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str, limits: Limits) -> Self {
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            limits,
            counters: counters.clone(),
            http: reqwest::Client::new(),
        });
        let app = Router::new().route("/", post(handle)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, counters, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(id: &Value, code: i64, message: &str) -> Response {
    axum::Json(json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })).into_response()
}

fn block_param(value: &Value) -> Option<u64> {
    u64::from_str_radix(value.as_str()?.trim_start_matches("0x"), 16).ok()
}

async fn handle(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not json").into_response();
    };
    let id = request["id"].clone();
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let limits = &shared.limits;
    let counters = &shared.counters;
    if !limits.delay.is_zero() {
        tokio::time::sleep(limits.delay).await;
    }
    if limits.hidden_methods.contains(&method.as_str()) {
        return error(&id, -32601, "the method does not exist/is not available");
    }
    if method == "eth_getLogs" {
        let n = counters.logs_requests.fetch_add(1, Ordering::SeqCst) + 1;
        if limits.rate_limit_every.is_some_and(|every| n % every == 0) {
            counters.rate_limited.fetch_add(1, Ordering::SeqCst);
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], "slow down").into_response();
        }
        let filter = &request["params"][0];
        if let (Some(max), Some(from), Some(to)) = (
            limits.max_range,
            block_param(&filter["fromBlock"]),
            block_param(&filter["toBlock"]),
        ) && to.saturating_sub(from) + 1 > max
        {
            let refusal = counters.range_refusals.fetch_add(1, Ordering::SeqCst);
            // Alternate between the shapes of two common providers.
            return if refusal % 2 == 0 {
                error(&id, -32602, &format!("query exceeds max block range {max}"))
            } else {
                (StatusCode::PAYLOAD_TOO_LARGE, "request entity too large").into_response()
            };
        }
    }
    let upstream = match shared
        .http
        .post(&shared.upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(response) => response,
        Err(_) => return (StatusCode::BAD_GATEWAY, "upstream down").into_response(),
    };
    let Ok(value) = upstream.json::<Value>().await else {
        return (StatusCode::BAD_GATEWAY, "bad upstream body").into_response();
    };
    if method == "eth_getLogs"
        && let (Some(max), Some(logs)) = (limits.max_results, value["result"].as_array())
        && logs.len() > max
    {
        counters.result_refusals.fetch_add(1, Ordering::SeqCst);
        return error(&id, -32005, &format!("query returned more than {max} results"));
    }
    axum::Json(value).into_response()
}
