//! JSON-RPC over several endpoints with failover, and a classification of provider errors by
//! code and HTTP status, which is what decides whether to split a range, back off or fail over.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U64};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::rpc::json_rpc::{RpcRecv, RpcSend};
use alloy::transports::http::{Http, reqwest};
use alloy::transports::{RpcError, TransportError, TransportErrorKind};
use serde::Deserialize;

use crate::config::reqwest_url;
use crate::telemetry;
use crate::{MonitorConfig, MonitorError};

const TARGET: &str = "quartz::monitor";

/// What went wrong with a call, as far as the monitor's reaction is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcErrorKind {
    /// The provider refused the `eth_getLogs` range or result size: split the range.
    RangeTooLarge,
    /// 429 or a rate-limit error: back off, then retry the same request.
    RateLimited,
    /// Connection failure, timeout, 5xx, or an auth/other HTTP error: try the next endpoint.
    Unavailable,
    /// The endpoint answered with data that does not parse: try the next endpoint.
    Invalid,
    /// The method is not offered by the endpoint (e.g. `debug_traceTransaction`).
    Unsupported,
    /// An `eth_call` reverted.
    Reverted,
    Other,
}

impl RpcErrorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::RangeTooLarge => "range_too_large",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Invalid => "invalid_response",
            Self::Unsupported => "unsupported",
            Self::Reverted => "reverted",
            Self::Other => "rpc_error",
        }
    }

    fn fails_over(&self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Unavailable | Self::Invalid | Self::Unsupported
        )
    }
}

impl fmt::Display for RpcErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed call, with the server's requested delay when it sent one.
#[derive(Debug, Clone)]
pub struct RpcFailure {
    pub method: &'static str,
    pub kind: RpcErrorKind,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl From<RpcFailure> for MonitorError {
    fn from(f: RpcFailure) -> Self {
        MonitorError::Rpc {
            method: f.method,
            kind: f.kind,
            message: f.message,
        }
    }
}

/// Classifies an error by JSON-RPC code and HTTP status. Wording is consulted only where
/// providers share one code between unrelated errors (-32005 for both rate and result limits,
/// -32000 for anything).
pub fn classify(method: &'static str, error: &TransportError) -> RpcFailure {
    let is_logs = method == "eth_getLogs";
    let (kind, retry_after) = match error {
        RpcError::ErrorResp(payload) => {
            let message = payload.message.to_ascii_lowercase();
            let rate_words = [
                "rate limit",
                "too many requests",
                "request rate",
                "rate exceeded",
                "request count",
            ];
            let range_words = [
                "range",
                "block",
                "limit",
                "exceed",
                "too many",
                "too large",
                "response size",
                "results",
                "more than",
            ];
            let kind = match payload.code {
                429 => RpcErrorKind::RateLimited,
                _ if rate_words.iter().any(|w| message.contains(w)) => RpcErrorKind::RateLimited,
                -32005 if is_logs => RpcErrorKind::RangeTooLarge,
                -32602 if is_logs => RpcErrorKind::RangeTooLarge,
                -32000 | -32614 | -32062 if is_logs && range_words.iter().any(|w| message.contains(w)) => {
                    RpcErrorKind::RangeTooLarge
                }
                -32601 => RpcErrorKind::Unsupported,
                3 => RpcErrorKind::Reverted,
                _ if message.contains("execution reverted") || message.contains("revert") => RpcErrorKind::Reverted,
                _ => RpcErrorKind::Other,
            };
            (kind, None)
        }
        RpcError::Transport(TransportErrorKind::HttpError(http)) => (http_kind(http.status, is_logs), None),
        RpcError::Transport(TransportErrorKind::HttpErrorWithRetryAfter { error, retry_after }) => {
            (http_kind(error.status, is_logs), Some(*retry_after))
        }
        RpcError::Transport(_) => (RpcErrorKind::Unavailable, None),
        RpcError::DeserError { .. } | RpcError::NullResp => (RpcErrorKind::Invalid, None),
        _ => (RpcErrorKind::Other, None),
    };
    RpcFailure {
        method,
        kind,
        message: truncate(&error.to_string(), 300),
        retry_after,
    }
}

fn http_kind(status: u16, is_logs: bool) -> RpcErrorKind {
    match status {
        413 if is_logs => RpcErrorKind::RangeTooLarge,
        429 => RpcErrorKind::RateLimited,
        _ => RpcErrorKind::Unavailable,
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// An endpoint URL without path and query, which often carry an API key.
pub fn redact(url: &str) -> String {
    match reqwest_url(url) {
        Ok(u) => match u.port() {
            Some(port) => format!("{}://{}:{port}", u.scheme(), u.host_str().unwrap_or("?")),
            None => format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?")),
        },
        Err(_) => "<invalid url>".into(),
    }
}

struct Endpoint {
    label: String,
    provider: RootProvider,
}

/// The configured endpoints. Calls go to the active one; a failure of a kind that another
/// endpoint might not share moves the call, and later calls, to the next one.
pub struct RpcPool {
    endpoints: Vec<Endpoint>,
    active: AtomicUsize,
}

impl RpcPool {
    pub fn new(config: &MonitorConfig) -> Result<Self, MonitorError> {
        let client = reqwest::Client::builder()
            .timeout(config.rpc_timeout())
            .connect_timeout(config.rpc_timeout().min(Duration::from_secs(10)))
            .build()
            .map_err(|e| MonitorError::Config {
                key: "rpc_urls",
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        let endpoints = config
            .rpc_urls
            .iter()
            .map(|url| {
                let parsed = reqwest_url(url).map_err(|reason| MonitorError::Config {
                    key: "rpc_urls",
                    reason,
                })?;
                let http = Http::with_client(client.clone(), parsed);
                let is_local = http.guess_local();
                Ok(Endpoint {
                    label: redact(url),
                    provider: RootProvider::new(RpcClient::new(http, is_local)),
                })
            })
            .collect::<Result<Vec<_>, MonitorError>>()?;
        Ok(Self {
            endpoints,
            active: AtomicUsize::new(0),
        })
    }

    pub fn active_label(&self) -> &str {
        &self.endpoints[self.active.load(Ordering::Relaxed) % self.endpoints.len()].label
    }

    /// Sends one request, failing over across endpoints once each.
    pub async fn request<P: RpcSend, R: RpcRecv>(&self, method: &'static str, params: P) -> Result<R, RpcFailure> {
        let count = self.endpoints.len();
        let start = self.active.load(Ordering::Relaxed);
        let mut last = None;
        for step in 0..count {
            let index = (start + step) % count;
            let endpoint = &self.endpoints[index];
            match endpoint
                .provider
                .raw_request::<P, R>(Cow::Borrowed(method), params.clone())
                .await
            {
                Ok(value) => {
                    if index != start % count {
                        self.active.store(index, Ordering::Relaxed);
                        tracing::warn!(target: TARGET, endpoint = %endpoint.label, "failed over to another RPC endpoint");
                        metrics::counter!(telemetry::FAILOVERS).increment(1);
                    }
                    return Ok(value);
                }
                Err(error) => {
                    let failure = classify(method, &error);
                    metrics::counter!(telemetry::RPC_ERRORS, "kind" => failure.kind.as_str()).increment(1);
                    if !failure.kind.fails_over() || count == 1 {
                        return Err(failure);
                    }
                    tracing::warn!(target: TARGET, endpoint = %endpoint.label, method, kind = %failure.kind,
                        error = %failure.message, "RPC call failed; trying the next endpoint");
                    last = Some(failure);
                }
            }
        }
        Err(last.unwrap_or(RpcFailure {
            method,
            kind: RpcErrorKind::Unavailable,
            message: "no endpoint configured".into(),
            retry_after: None,
        }))
    }

    pub async fn chain_id(&self) -> Result<u64, RpcFailure> {
        self.request::<_, U64>("eth_chainId", ()).await.map(|v| v.to::<u64>())
    }

    pub async fn block_number(&self) -> Result<u64, RpcFailure> {
        self.request::<_, U64>("eth_blockNumber", ())
            .await
            .map(|v| v.to::<u64>())
    }

    /// The header of block `number`, or `None` when the chain is shorter.
    pub async fn block(&self, number: u64) -> Result<Option<BlockRef>, RpcFailure> {
        self.request("eth_getBlockByNumber", (U64::from(number), false)).await
    }

    pub async fn finalized_block(&self) -> Result<Option<BlockRef>, RpcFailure> {
        self.request("eth_getBlockByNumber", ("finalized", false)).await
    }

    pub async fn logs(&self, address: Address, topic0: B256, from: u64, to: u64) -> Result<Vec<RawLog>, RpcFailure> {
        let filter = serde_json::json!({
            "address": address,
            "topics": [topic0],
            "fromBlock": U64::from(from),
            "toBlock": U64::from(to),
        });
        self.request("eth_getLogs", (filter,)).await
    }

    pub async fn transaction(&self, hash: B256) -> Result<Option<TxRef>, RpcFailure> {
        self.request("eth_getTransactionByHash", (hash,)).await
    }

    pub async fn receipt(&self, hash: B256) -> Result<Option<ReceiptRef>, RpcFailure> {
        self.request("eth_getTransactionReceipt", (hash,)).await
    }

    pub async fn call_trace(&self, hash: B256) -> Result<CallFrame, RpcFailure> {
        self.request(
            "debug_traceTransaction",
            (hash, serde_json::json!({ "tracer": "callTracer" })),
        )
        .await
    }

    pub async fn call(&self, to: Address, data: Bytes, block: u64) -> Result<Bytes, RpcFailure> {
        self.request(
            "eth_call",
            (serde_json::json!({ "to": to, "data": data }), U64::from(block)),
        )
        .await
    }
}

/// The parts of a block header the monitor needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockRef {
    pub number: U64,
    pub hash: B256,
}

/// A log as returned by `eth_getLogs` or in a receipt. Every field is checked before use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawLog {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub block_number: Option<U64>,
    pub block_hash: Option<B256>,
    pub transaction_hash: Option<B256>,
    pub log_index: Option<U64>,
    #[serde(default)]
    pub removed: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TxRef {
    pub to: Option<Address>,
    pub input: Bytes,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptRef {
    pub block_number: Option<U64>,
    pub block_hash: Option<B256>,
    pub status: Option<U64>,
    #[serde(default)]
    pub logs: Vec<RawLog>,
}

/// One frame of a callTracer trace.
#[derive(Debug, Clone, Deserialize)]
pub struct CallFrame {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub to: Option<Address>,
    #[serde(default)]
    pub input: Bytes,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub calls: Vec<CallFrame>,
}

/// Exponential backoff between retries, capped; reset after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(200);

    pub fn new(max: Duration) -> Self {
        Self {
            next: Self::FIRST.min(max),
            max,
        }
    }

    /// The delay to wait now; `hint` (a server's Retry-After) wins when it is longer.
    pub fn delay(&mut self, hint: Option<Duration>) -> Duration {
        let delay = self
            .next
            .max(hint.unwrap_or_default())
            .min(self.max.max(hint.unwrap_or_default()));
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use alloy::rpc::json_rpc::ErrorPayload;
    use alloy::transports::HttpError;

    use super::*;

    fn resp(code: i64, message: &'static str) -> TransportError {
        RpcError::ErrorResp(ErrorPayload {
            code,
            message: message.into(),
            data: None,
        })
    }

    fn http(status: u16) -> TransportError {
        RpcError::Transport(TransportErrorKind::HttpError(HttpError {
            status,
            body: String::new(),
        }))
    }

    #[test]
    fn provider_limits_split_the_range() {
        for error in [
            resp(-32005, "query returned more than 10000 results"),
            resp(
                -32602,
                "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
            ),
            resp(-32000, "block range is too wide"),
            resp(-32000, "exceed maximum block range: 5000"),
            http(413),
        ] {
            assert_eq!(
                classify("eth_getLogs", &error).kind,
                RpcErrorKind::RangeTooLarge,
                "{error}"
            );
        }
    }

    #[test]
    fn rate_limits_back_off_and_outages_fail_over() {
        assert_eq!(classify("eth_getLogs", &http(429)).kind, RpcErrorKind::RateLimited);
        assert_eq!(
            classify("eth_getLogs", &resp(-32005, "project ID request rate exceeded")).kind,
            RpcErrorKind::RateLimited
        );
        assert_eq!(classify("eth_getLogs", &http(503)).kind, RpcErrorKind::Unavailable);
        assert_eq!(
            classify("eth_blockNumber", &TransportErrorKind::custom_str("connection refused")).kind,
            RpcErrorKind::Unavailable
        );
    }

    #[test]
    fn unrelated_errors_are_not_taken_for_range_limits() {
        assert_eq!(
            classify("eth_getLogs", &resp(-32000, "header not found")).kind,
            RpcErrorKind::Other
        );
        assert_eq!(
            classify("eth_call", &resp(-32602, "invalid argument")).kind,
            RpcErrorKind::Other
        );
        assert_eq!(
            classify("debug_traceTransaction", &resp(-32601, "method not found")).kind,
            RpcErrorKind::Unsupported
        );
        assert_eq!(
            classify("eth_call", &resp(3, "execution reverted")).kind,
            RpcErrorKind::Reverted
        );
    }

    #[test]
    fn redaction_drops_path_and_query() {
        assert_eq!(
            redact("https://eth.example.com/v2/SECRET?key=x"),
            "https://eth.example.com"
        );
        assert_eq!(redact("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_honours_retry_after() {
        let mut backoff = Backoff::new(Duration::from_secs(1));
        assert_eq!(backoff.delay(None), Duration::from_millis(200));
        assert_eq!(backoff.delay(None), Duration::from_millis(400));
        assert_eq!(backoff.delay(None), Duration::from_millis(800));
        assert_eq!(backoff.delay(None), Duration::from_secs(1));
        assert_eq!(backoff.delay(Some(Duration::from_secs(5))), Duration::from_secs(5));
        backoff.reset();
        assert_eq!(backoff.delay(None), Duration::from_millis(200));
    }
}
