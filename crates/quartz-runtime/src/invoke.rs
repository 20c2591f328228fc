//! `POST /2015-03-31/functions/{name}/invocations`: Lambda's Invoke, with its headers, limits and
//! error shapes.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use crate::control::qualifier;
use crate::error::{ApiError, ErrorType};
use crate::functions::{FunctionRecord, LATEST, Resolved, State as FnState, validate_name, validate_qualifier};
use crate::ids::{parse_function_ref, request_id};
use crate::instance::{InvokeArgs, Outcome, StartError};
use crate::model::QualifierQuery;
use crate::pool::PoolKey;
use crate::state::SharedState;

pub const MAX_SYNC_REQUEST: usize = 6 * 1024 * 1024;
pub const MAX_EVENT_REQUEST: usize = 256 * 1024;

/// The outcome of one invocation as the Invoke API reports it.
struct Invoked {
    body: Bytes,
    function_error: Option<&'static str>,
    version: String,
    log_tail: Vec<u8>,
}

pub async fn invoke(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    Query(query): Query<QualifierQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (name, path_qualifier) = parse_function_ref(&function);
    validate_name(&name)?;
    if let Some(q) = &path_qualifier {
        validate_qualifier(q)?;
    }
    let qualifier = qualifier(path_qualifier, query.qualifier)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let invocation_type = header("x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    let limit = match invocation_type.as_str() {
        "RequestResponse" | "DryRun" => MAX_SYNC_REQUEST,
        "Event" => MAX_EVENT_REQUEST,
        other => {
            return Err(ApiError::invalid(format!(
                "invalid InvocationType {other:?}: use RequestResponse, Event or DryRun"
            )));
        }
    };
    let payload = match body {
        Ok(body) => checked_payload(body, limit)?,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large(limit)),
        Err(rejection) => return Err(ApiError::new(ErrorType::InvalidRequestContent, rejection.body_text())),
    };
    let tail = header("x-amz-log-type").as_deref() == Some("Tail");
    let client_context = header("x-amz-client-context");

    let (record, resolved, invoked_arn) = target(&state, &name, qualifier.as_deref()).await?;
    match invocation_type.as_str() {
        "DryRun" => Ok(StatusCode::NO_CONTENT.into_response()),
        "Event" => {
            let state = state.clone();
            tokio::spawn(async move {
                // Queued invocations may wait for a slot as long as the function may run.
                let wait = Duration::from_secs(u64::from(resolved.record.spec.timeout) + 60);
                if let Err(error) = run(&state, &record, resolved, payload, invoked_arn, None, wait).await {
                    tracing::warn!(target: "quartz::runtime", function = %record.name, %error, "queued invocation failed");
                }
            });
            Ok(StatusCode::ACCEPTED.into_response())
        }
        _ => {
            let wait = Duration::from_millis(state.config.queue_wait_ms);
            let invoked = run(&state, &record, resolved, payload, invoked_arn, client_context, wait).await?;
            let mut response = (StatusCode::OK, invoked.body).into_response();
            let headers = response.headers_mut();
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            if let Ok(v) = HeaderValue::from_str(&invoked.version) {
                headers.insert("x-amz-executed-version", v);
            }
            if let Some(error) = invoked.function_error {
                headers.insert("x-amz-function-error", HeaderValue::from_static(error));
            }
            if tail {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&invoked.log_tail);
                if let Ok(v) = HeaderValue::from_str(&encoded) {
                    headers.insert("x-amz-log-result", v);
                }
            }
            Ok(response)
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorType::RequestTooLarge,
        format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
    )
}

/// An Invoke payload as Lambda takes it: at most `limit` bytes, JSON, and `{}` when empty.
fn checked_payload(payload: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    if payload.len() > limit {
        return Err(too_large(limit));
    }
    if payload.is_empty() {
        return Ok(Bytes::from_static(b"{}"));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(ApiError::new(
            ErrorType::InvalidRequestContent,
            format!("Could not parse request body into json: {e}"),
        ));
    }
    Ok(payload)
}

/// The function and version an invocation of `name[:qualifier]` runs, and the ARN it names.
async fn target(
    state: &SharedState,
    name: &str,
    qualifier: Option<&str>,
) -> Result<(FunctionRecord, Resolved, String), ApiError> {
    let record = state.get(name).await?;
    let resolved = record.resolve(qualifier, &state.arns)?;
    if resolved.version == LATEST && record.state != FnState::Active {
        return Err(ApiError::conflict(format!(
            "The operation cannot be performed at this time. The function is currently in the following state: {:?}",
            record.state
        )));
    }
    let invoked_arn = match qualifier {
        Some(q) => state.arns.qualified(name, q),
        None => state.arns.function(name),
    };
    Ok((record, resolved, invoked_arn))
}

/// A synchronous invocation's answer, for callers in the same process (`quartz up`'s adapter).
#[derive(Debug, Clone)]
pub struct Invocation {
    pub body: Bytes,
    /// `Unhandled` when the function failed (the body is then Lambda's error document).
    pub function_error: Option<&'static str>,
    pub version: String,
}

/// Invokes functions of a running runtime from the same process, with the Invoke API's
/// semantics (validation, limits, queueing, throttling, errors) but no HTTP in between.
#[derive(Clone)]
pub struct LocalInvoker {
    pub(crate) state: SharedState,
}

impl LocalInvoker {
    /// `RequestResponse` Invoke of `function` at `qualifier`.
    pub async fn invoke(
        &self,
        function: &str,
        qualifier: Option<&str>,
        payload: Bytes,
    ) -> Result<Invocation, ApiError> {
        validate_name(function)?;
        if let Some(q) = qualifier {
            validate_qualifier(q)?;
        }
        let payload = checked_payload(payload, MAX_SYNC_REQUEST)?;
        let (record, resolved, invoked_arn) = target(&self.state, function, qualifier).await?;
        let wait = Duration::from_millis(self.state.config.queue_wait_ms);
        let invoked = run(&self.state, &record, resolved, payload, invoked_arn, None, wait).await?;
        Ok(Invocation {
            body: invoked.body,
            function_error: invoked.function_error,
            version: invoked.version,
        })
    }

    /// Whether `function:qualifier` exists and could be invoked now.
    pub async fn resolves(&self, function: &str, qualifier: Option<&str>) -> bool {
        validate_name(function).is_ok() && target(&self.state, function, qualifier).await.is_ok()
    }
}

fn error_body(error_type: &str, message: String) -> Bytes {
    Bytes::from(json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

async fn run(
    state: &SharedState,
    record: &FunctionRecord,
    resolved: Resolved,
    payload: Bytes,
    invoked_arn: String,
    client_context: Option<String>,
    wait: Duration,
) -> Result<Invoked, ApiError> {
    let name = record.name.clone();
    let spec = &resolved.record.spec;
    let key = PoolKey {
        function: name.clone(),
        version: resolved.version.clone(),
        revision_id: resolved.record.revision_id.clone(),
    };
    let limit = record.reserved_concurrency.unwrap_or(state.config.default_concurrency);
    let throttled = || {
        metrics::counter!("quartz_function_throttles_total", "function" => name.clone()).increment(1);
        let mut error = ApiError::new(ErrorType::TooManyRequests, "Rate Exceeded.");
        error.reason = Some("ReservedFunctionConcurrentInvocationLimitExceeded");
        error
    };
    if limit == 0 {
        return Err(throttled());
    }
    let lease = state.pools.acquire(&key, limit, wait).await.ok_or_else(throttled)?;
    let request_id = request_id();
    let log = state.logs.function(&name);
    let version = resolved.version.clone();

    let mut init_duration = None;
    let instance = match lease.warm {
        Some(instance) => instance,
        None => {
            let started = Instant::now();
            metrics::counter!("quartz_function_cold_starts_total", "function" => name.clone()).increment(1);
            match state.start_instance(&name, &version, spec).await {
                Ok(instance) => {
                    init_duration = Some(started.elapsed());
                    instance
                }
                Err(error) => {
                    metrics::counter!("quartz_function_errors_total", "function" => name.clone(), "kind" => "init")
                        .increment(1);
                    let (body, kind) = match error {
                        StartError::Init { body, error_type } => {
                            let valid = serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object());
                            let body = if valid {
                                body
                            } else {
                                error_body(
                                    error_type.as_deref().unwrap_or("Runtime.InitError"),
                                    String::from_utf8_lossy(&body).into(),
                                )
                            };
                            (body, "Runtime.InitError")
                        }
                        StartError::Exit(status) => (
                            error_body(
                                "Runtime.ExitError",
                                format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
                            ),
                            "Runtime.ExitError",
                        ),
                        StartError::Timeout(after) => (
                            error_body(
                                "Runtime.InitTimeout",
                                format!(
                                    "RequestId: {request_id} Error: the runtime did not start within {:.2} seconds",
                                    after.as_secs_f64()
                                ),
                            ),
                            "Runtime.InitTimeout",
                        ),
                        StartError::Spawn(message) => {
                            return Err(ApiError::service(format!("cannot start the function: {message}")));
                        }
                    };
                    let line =
                        format!("INIT_REPORT RequestId: {request_id}\tPhase: init\tStatus: error\tError Type: {kind}");
                    log.line(&line, None);
                    let tail = format!("{line}\n").into_bytes();
                    return Ok(Invoked {
                        body,
                        function_error: Some("Unhandled"),
                        version,
                        log_tail: tail,
                    });
                }
            }
        }
    };

    instance.capture.start();
    log.line(
        &format!("START RequestId: {request_id} Version: {version}"),
        Some(&instance.capture),
    );
    let timeout = Duration::from_secs(u64::from(spec.timeout));
    let started = Instant::now();
    let outcome = instance
        .invoke(InvokeArgs {
            request_id: request_id.clone(),
            payload,
            invoked_arn,
            client_context,
            timeout,
        })
        .await;
    let duration = started.elapsed();
    let (body, function_error, reusable, kind) = match outcome {
        Outcome::Response(body) => (body, None, true, "success"),
        Outcome::FunctionError(body) => (body, Some("Unhandled"), true, "error"),
        Outcome::TooLarge => (
            error_body(
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size exceeded maximum allowed payload size ({} bytes).",
                    crate::runtime_api::MAX_RESPONSE_BYTES
                ),
            ),
            Some("Unhandled"),
            // The runtime client was refused mid-response and may be exiting (lambda_runtime
            // ends its loop when posting a response fails): reusing it raced the next invoke
            // into a dying process. A fresh instance answers the next one.
            false,
            "too_large",
        ),
        Outcome::Timeout => {
            let message = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
            log.line(
                &format!("{} {request_id} {message}", crate::ids::last_modified_now()),
                Some(&instance.capture),
            );
            (
                error_body("Sandbox.Timedout", format!("RequestId: {request_id} Error: {message}")),
                Some("Unhandled"),
                false,
                "timeout",
            )
        }
        Outcome::Exited(status) => (
            error_body(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
            ),
            Some("Unhandled"),
            false,
            "exit",
        ),
    };
    let millis = duration.as_secs_f64() * 1000.0;
    let mut report = format!(
        "REPORT RequestId: {request_id}\tDuration: {millis:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB",
        millis.ceil() as u64,
        spec.memory
    );
    if let Some(max) = instance.max_memory_mb() {
        report.push_str(&format!("\tMax Memory Used: {max} MB"));
    }
    if let Some(init) = init_duration {
        report.push_str(&format!("\tInit Duration: {:.2} ms", init.as_secs_f64() * 1000.0));
    }
    log.lines(
        &[&format!("END RequestId: {request_id}"), &report],
        Some(&instance.capture),
    );
    let log_tail = instance.capture.take_tail();

    metrics::counter!("quartz_function_invocations_total", "function" => name.clone(), "outcome" => kind).increment(1);
    metrics::histogram!("quartz_function_duration_seconds", "function" => name.clone()).record(duration.as_secs_f64());
    if function_error.is_some() {
        metrics::counter!("quartz_function_errors_total", "function" => name.clone(), "kind" => kind).increment(1);
    }
    if reusable && instance.alive() {
        state.pools.release(key, instance);
    } else {
        instance.kill();
    }
    drop(lease.permit);
    Ok(Invoked {
        body,
        function_error,
        version,
        log_tail,
    })
}
