//! Invoking the `live` alias: through the Lambda API (the official SDK client, retries off),
//! through API Gateway (`POST {base}/task`), or through Quartz's local runtime's Invoke API over
//! plain HTTP (no SigV4: the local runtime does not check it, and signing cost more than the
//! rest of the adapter's hop). An invocation that may have reached the function
//! is never repeated; only throttling (429) is retried, with jittered backoff, within the task's
//! deadline.

use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use bytes::Bytes;
use quartz_core::FunctionName;
use serde_json::Value;

use crate::TaskError;
use crate::config::LIVE_ALIAS;

const BACKOFF_BASE: Duration = Duration::from_millis(50);
const BACKOFF_CAP: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The least time a throttling retry must have left before the deadline.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);
/// How long a reachability probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub enum Invoker {
    Lambda(Client),
    Gateway {
        http: reqwest::Client,
        task_url: String,
    },
    LocalRuntime {
        http: reqwest::Client,
        endpoint: String,
    },
    /// The runtime of this process (`quartz up`): no HTTP at all.
    InProcess(quartz_runtime::LocalInvoker),
}

/// One attempt's failure: throttled (may be retried) or final.
enum Attempt {
    Throttled(String),
    Failed(TaskError),
}

/// The SDK client the adapter invokes with: the given client's configuration (endpoint,
/// region, credentials) with SDK retries off, since the SDK would also retry timeouts and
/// transient errors of calls that may have reached the function, and with a read timeout
/// above the function timeout.
pub fn invoke_client(base: &Client, read_timeout: Duration) -> Client {
    let config = base
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(read_timeout)
                .build(),
        )
        .build();
    Client::from_conf(config)
}

impl Invoker {
    /// Invokes `function:live` with `event`, retrying throttling until `deadline`.
    pub async fn invoke(&self, function: &FunctionName, event: Bytes, deadline: Instant) -> Result<Value, TaskError> {
        let mut attempt: u32 = 0;
        let mut slowest = MIN_ATTEMPT;
        loop {
            let started = Instant::now();
            let once = tokio::time::timeout_at(deadline.into(), self.invoke_once(function, event.clone(), deadline));
            match once.await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Attempt::Failed(err))) => return Err(err),
                Ok(Err(Attempt::Throttled(message))) => {
                    let delay = backoff(attempt);
                    // A retry must leave time for an attempt at least as slow as those so far:
                    // one cut off by the deadline would be reported as a timeout, not throttling.
                    slowest = slowest.max(started.elapsed());
                    if Instant::now() + delay + slowest >= deadline {
                        return Err(TaskError::Throttled(format!(
                            "{function}:{LIVE_ALIAS} is throttled and the task deadline leaves no time to retry \
                             ({} attempts): {message}",
                            attempt + 1
                        )));
                    }
                    metrics::counter!("quartz_adapter_throttle_retries_total").increment(1);
                    tracing::debug!(target: "quartz::adapter", %function, attempt, ?delay, "throttled; retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(_) => {
                    return Err(TaskError::Timeout {
                        error_type: None,
                        message: format!("{function}:{LIVE_ALIAS} did not answer before the task deadline"),
                    });
                }
            }
        }
    }

    async fn invoke_once(&self, function: &FunctionName, event: Bytes, deadline: Instant) -> Result<Value, Attempt> {
        match self {
            Self::Lambda(client) => invoke_lambda(client, function, event).await,
            Self::Gateway { http, task_url } => invoke_gateway(http, task_url, event, deadline).await,
            Self::LocalRuntime { http, endpoint } => invoke_local(http, endpoint, function, event, deadline).await,
            Self::InProcess(runtime) => invoke_in_process(runtime, function, event).await,
        }
    }

    /// Whether the platform answers for `function:live` (or, without a function, at all).
    pub async fn reachable(&self, function: Option<&FunctionName>) -> bool {
        let probe = async {
            match (self, function) {
                (Self::Lambda(client), Some(function)) => client
                    .get_alias()
                    .function_name(function.as_str())
                    .name(LIVE_ALIAS)
                    .send()
                    .await
                    .is_ok(),
                (Self::Lambda(client), None) => client.list_functions().max_items(1).send().await.is_ok(),
                // Any HTTP answer from the gateway means it is reachable.
                (Self::Gateway { http, task_url }, _) => http.get(task_url).send().await.is_ok(),
                (Self::InProcess(runtime), Some(function)) => {
                    runtime.resolves(function.as_str(), Some(LIVE_ALIAS)).await
                }
                (Self::InProcess(_), None) => true,
                (Self::LocalRuntime { http, endpoint }, function) => {
                    let url = match function {
                        Some(function) => format!("{endpoint}{FUNCTIONS}/{function}/aliases/{LIVE_ALIAS}"),
                        None => format!("{endpoint}{FUNCTIONS}/?MaxItems=1"),
                    };
                    http.get(url).send().await.is_ok_and(|r| r.status().is_success())
                }
            }
        };
        tokio::time::timeout(PROBE_TIMEOUT, probe).await.unwrap_or(false)
    }
}

/// Full jitter: a random delay up to `min(cap, base * 2^attempt)`.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(BACKOFF_CAP);
    let mut bytes = [0u8; 8];
    let fraction = match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    };
    ceiling.mul_f64(fraction)
}

async fn invoke_lambda(client: &Client, function: &FunctionName, event: Bytes) -> Result<Value, Attempt> {
    let result = client
        .invoke()
        .function_name(function.as_str())
        .qualifier(LIVE_ALIAS)
        .payload(Blob::new(event))
        .send()
        .await;
    let output = match result {
        Ok(output) => output,
        Err(err) => return Err(sdk_error(function, err)),
    };
    let body = output.payload().map_or(&b"null"[..], |p| p.as_ref());
    if let Some(kind) = output.function_error() {
        return Err(Attempt::Failed(function_error(kind, body)));
    }
    parse_result(body).map_err(Attempt::Failed)
}

fn sdk_error(
    function: &FunctionName,
    err: SdkError<InvokeError, aws_sdk_lambda::config::http::HttpResponse>,
) -> Attempt {
    let target = format!("{function}:{LIVE_ALIAS}");
    match err {
        SdkError::ServiceError(service) => {
            let err = service.into_err();
            lambda_api_error(
                &target,
                err.code().unwrap_or("Unknown"),
                err.message().unwrap_or_default(),
            )
        }
        SdkError::TimeoutError(_) => Attempt::Failed(TaskError::Timeout {
            error_type: None,
            message: format!("no answer from {target} within the read timeout"),
        }),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => Attempt::Failed(TaskError::Timeout {
            error_type: None,
            message: format!("no answer from {target} within the client's timeouts"),
        }),
        other => Attempt::Failed(TaskError::Unavailable(format!(
            "the Lambda API could not be reached for {target}: {}",
            DisplayErrorContext(&other)
        ))),
    }
}

/// An error answer of the Lambda API (`x-amzn-errortype` / the SDK's error code) as an attempt's
/// outcome: the same for the SDK client and the local runtime's plain HTTP.
fn lambda_api_error(target: &str, code: &str, message: &str) -> Attempt {
    match code {
        "TooManyRequestsException" => Attempt::Throttled(format!("{code}: {message}")),
        "RequestTooLargeException" => Attempt::Failed(TaskError::TooLarge(format!(
            "the Lambda API refused the event: {message}"
        ))),
        "ResourceNotFoundException" => Attempt::Failed(TaskError::Unavailable(format!(
            "{target} does not exist on the function platform: {message}"
        ))),
        "ResourceNotReadyException" | "ServiceException" | "ResourceConflictException" => Attempt::Failed(
            TaskError::Unavailable(format!("{target} is not available: {code}: {message}")),
        ),
        _ => Attempt::Failed(TaskError::Upstream(format!(
            "the Lambda API refused to invoke {target}: {code}: {message}"
        ))),
    }
}

const FUNCTIONS: &str = "/2015-03-31/functions";

async fn invoke_local(
    http: &reqwest::Client,
    endpoint: &str,
    function: &FunctionName,
    event: Bytes,
    deadline: Instant,
) -> Result<Value, Attempt> {
    let target = format!("{function}:{LIVE_ALIAS}");
    let url = format!("{endpoint}{FUNCTIONS}/{function}/invocations?Qualifier={LIVE_ALIAS}");
    let transport = |e: reqwest::Error| {
        Attempt::Failed(if e.is_timeout() {
            TaskError::Timeout {
                error_type: None,
                message: format!("no answer from {target} within the read timeout"),
            }
        } else {
            TaskError::Unavailable(format!("the local runtime could not be reached for {target}: {e}"))
        })
    };
    let response = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .timeout(deadline.saturating_duration_since(Instant::now()))
        .body(event)
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (error_type, function_error_kind) = (header("x-amzn-errortype"), header("x-amz-function-error"));
    let body = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let message = message
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| snippet(&body), str::to_string);
        let code = error_type.unwrap_or_else(|| format!("HTTP {status}"));
        return Err(lambda_api_error(&target, &code, &message));
    }
    if let Some(kind) = function_error_kind {
        return Err(Attempt::Failed(function_error(&kind, &body)));
    }
    parse_result(&body).map_err(Attempt::Failed)
}

async fn invoke_in_process(
    runtime: &quartz_runtime::LocalInvoker,
    function: &FunctionName,
    event: Bytes,
) -> Result<Value, Attempt> {
    let target = format!("{function}:{LIVE_ALIAS}");
    let invocation = runtime
        .invoke(function.as_str(), Some(LIVE_ALIAS), event)
        .await
        .map_err(|e| lambda_api_error(&target, e.kind.name(), &e.message))?;
    if let Some(kind) = invocation.function_error {
        return Err(Attempt::Failed(function_error(kind, &invocation.body)));
    }
    parse_result(&invocation.body).map_err(Attempt::Failed)
}

async fn invoke_gateway(http: &reqwest::Client, url: &str, event: Bytes, deadline: Instant) -> Result<Value, Attempt> {
    let timeout = deadline.saturating_duration_since(Instant::now());
    let response = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .timeout(timeout)
        .body(event)
        .send()
        .await
        .map_err(|e| Attempt::Failed(gateway_transport_error(url, &e)))?;
    let status = response.status();
    let error_header = response
        .headers()
        .get("x-amz-function-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .bytes()
        .await
        .map_err(|e| Attempt::Failed(gateway_transport_error(url, &e)))?;
    if status == http::StatusCode::TOO_MANY_REQUESTS {
        return Err(Attempt::Throttled(format!(
            "API Gateway answered 429: {}",
            snippet(&body)
        )));
    }
    if status == http::StatusCode::GATEWAY_TIMEOUT {
        return Err(Attempt::Failed(TaskError::Timeout {
            error_type: None,
            message: format!("API Gateway timed out waiting for the function: {}", snippet(&body)),
        }));
    }
    if !status.is_success() {
        let err = if status.is_server_error() {
            TaskError::Unavailable(format!("API Gateway answered {status}: {}", snippet(&body)))
        } else {
            TaskError::Upstream(format!(
                "API Gateway refused the task with {status}: {}",
                snippet(&body)
            ))
        };
        return Err(Attempt::Failed(err));
    }
    if let Some(kind) = error_header {
        return Err(Attempt::Failed(function_error(&kind, &body)));
    }
    let value = parse_result(&body).map_err(Attempt::Failed)?;
    // A non-proxy Lambda integration passes a function error through as a 200 with Lambda's
    // error body.
    if is_error_body(&value) {
        return Err(Attempt::Failed(function_error("Unhandled", &body)));
    }
    Ok(value)
}

fn gateway_transport_error(url: &str, err: &reqwest::Error) -> TaskError {
    if err.is_timeout() {
        TaskError::Timeout {
            error_type: None,
            message: format!("no answer from {url} before the task deadline"),
        }
    } else {
        TaskError::Unavailable(format!("API Gateway at {url} could not be reached: {err}"))
    }
}

fn is_error_body(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    object.get("errorMessage").is_some_and(Value::is_string)
        && object.get("errorType").is_some_and(Value::is_string)
        && object.keys().all(|k| {
            matches!(
                k.as_str(),
                "errorMessage" | "errorType" | "stackTrace" | "requestId" | "cause"
            )
        })
}

/// Lambda's error body `{"errorType","errorMessage"}` as a task error; a timeout reported by
/// the platform (`Sandbox.Timedout`) is a timeout.
pub fn function_error(kind: &str, body: &[u8]) -> TaskError {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    let error_type = field("errorType").unwrap_or_else(|| kind.to_string());
    let message = field("errorMessage").unwrap_or_else(|| snippet(body));
    if error_type == "Sandbox.Timedout" || message.contains("Task timed out after") {
        return TaskError::Timeout {
            error_type: Some(error_type),
            message,
        };
    }
    TaskError::Function { error_type, message }
}

fn parse_result(body: &[u8]) -> Result<Value, TaskError> {
    serde_json::from_slice(body).map_err(|e| {
        TaskError::Upstream(format!(
            "the function returned a result that is not JSON ({e}): {}",
            snippet(body)
        ))
    })
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
    if body.len() > 512 { format!("{text}…") } else { text }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        for attempt in 0..40 {
            assert!(backoff(attempt) <= BACKOFF_CAP);
        }
        assert!(backoff(0) <= BACKOFF_BASE);
    }

    #[test]
    fn function_errors_keep_type_and_message() {
        let err = function_error("Unhandled", br#"{"errorType":"MyError","errorMessage":"nope"}"#);
        assert_eq!(
            err,
            TaskError::Function {
                error_type: "MyError".into(),
                message: "nope".into()
            }
        );
        let err = function_error(
            "Unhandled",
            br#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 1.00 seconds"}"#,
        );
        assert!(matches!(err, TaskError::Timeout { .. }));
        let err = function_error("Unhandled", b"not json");
        assert_eq!(err.to_string(), "Unhandled: not json");
    }

    #[test]
    fn lambda_error_bodies_are_recognised() {
        assert!(is_error_body(
            &serde_json::json!({"errorType": "E", "errorMessage": "m", "stackTrace": []})
        ));
        assert!(!is_error_body(
            &serde_json::json!({"errorType": "E", "errorMessage": "m", "result": 1})
        ));
    }
}
