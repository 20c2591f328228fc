//! The seed's HTTP API: `POST /perform`, `GET /health`, `GET /metrics`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use quartz_core::{AvsAddress, DomainError};
use serde_json::{Map, Value, json};

use crate::TaskError;
use crate::adapter::{Adapter, Protocol, Task};
use crate::event::{MAX_SYNC_PAYLOAD, too_large};
use crate::routing::Selector;

/// Bodies up to this size are read whole, so that an oversized request still gets a clean 413
/// answer rather than a reset connection; beyond it the connection is cut short.
const HARD_BODY_LIMIT: usize = 4 * MAX_SYNC_PAYLOAD;

pub async fn perform(State(adapter): State<Arc<Adapter>>, request: Request) -> Response {
    match perform_inner(&adapter, request.into_body()).await {
        Ok(result) => Json(json!({"success": true, "result": result})).into_response(),
        Err(err) => failure(&err),
    }
}

async fn perform_inner(adapter: &Adapter, body: Body) -> Result<Value, TaskError> {
    let task = read_body(body)
        .await
        .and_then(|body| parse_perform(&body))
        .inspect_err(|err| Adapter::rejected(Protocol::Http, err))?;
    adapter.run(Protocol::Http, task).await
}

/// `{"success": false, "error": message}`, plus `errorType` for function errors.
fn failure(err: &TaskError) -> Response {
    let mut body = json!({"success": false, "error": err.message()});
    if let Some(kind) = err.error_type() {
        body["errorType"] = Value::String(kind.to_string());
    }
    (err.http_status(), Json(body)).into_response()
}

async fn read_body(body: Body) -> Result<bytes::Bytes, TaskError> {
    let limited = http_body_util::Limited::new(body, HARD_BODY_LIMIT);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Err(too_large("the request body", HARD_BODY_LIMIT + 1));
        }
        Err(err) => return Err(TaskError::BadRequest(format!("cannot read the request body: {err}"))),
    };
    if bytes.len() > MAX_SYNC_PAYLOAD {
        return Err(too_large("the request body", bytes.len()));
    }
    Ok(bytes)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a Value, TaskError> {
    match object.get(field) {
        None => Err(TaskError::BadRequest(format!("missing field {field}"))),
        Some(value) => Ok(value),
    }
}

fn string<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, TaskError> {
    match required(object, field)? {
        Value::String(text) => Ok(text),
        other => Err(TaskError::BadRequest(format!(
            "{field} must be a string, got {}",
            type_name(other)
        ))),
    }
}

fn operator_set_id(value: &Value) -> Result<u32, TaskError> {
    let bad = || {
        TaskError::BadRequest(format!(
            "operatorSetId must be an integer from 0 to 4294967295, got {value}"
        ))
    };
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(bad),
        Value::String(text) => quartz_core::parse_operator_set_id(text).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// `{"avsAddress","taskId","payload","operatorSetId"?}`, each problem with its own message.
pub fn parse_perform(body: &[u8]) -> Result<Task, TaskError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| TaskError::BadRequest(format!("the request body is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(TaskError::BadRequest(format!(
            "the request body must be a JSON object with avsAddress, taskId and payload, got {}",
            type_name(&value)
        )));
    };
    let avs: AvsAddress = string(&object, "avsAddress")?
        .parse()
        .map_err(|e: DomainError| TaskError::BadRequest(format!("avsAddress: {e}")))?;
    let task_id = string(&object, "taskId")?;
    if task_id.is_empty() {
        return Err(TaskError::BadRequest("taskId must not be empty".into()));
    }
    let operator_set_id = match object.get("operatorSetId") {
        None | Some(Value::Null) => None,
        Some(value) => Some(operator_set_id(value)?),
    };
    let payload = required(&object, "payload")?.clone();
    Ok(Task {
        selector: Selector {
            avs: Some(avs),
            operator_set_id,
        },
        task_id: task_id.to_string(),
        payload,
        encoding: None,
        deadline: None,
    })
}

pub async fn health(State(adapter): State<Arc<Adapter>>) -> Response {
    let mode = if adapter.is_single() { "single" } else { "registry" };
    Json(json!({"status": "ok", "mode": mode})).into_response()
}

pub async fn metrics() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        quartz_telemetry::prometheus().render(),
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn message(body: &str) -> String {
        match parse_perform(body.as_bytes()) {
            Err(TaskError::BadRequest(message)) => message,
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => panic!("{body} accepted"),
        }
    }

    const AVS: &str = "0x8e14db002737f89745bc98f987caeb18d0d47635";

    #[test]
    fn each_problem_has_its_own_message() {
        assert!(message("{").contains("not valid JSON"));
        assert!(message("[]").contains("must be a JSON object"));
        assert_eq!(message(r#"{"taskId":"t","payload":1}"#), "missing field avsAddress");
        assert_eq!(
            message(&format!(r#"{{"avsAddress":"{AVS}","payload":1}}"#)),
            "missing field taskId"
        );
        assert_eq!(
            message(&format!(r#"{{"avsAddress":"{AVS}","taskId":"t"}}"#)),
            "missing field payload"
        );
        assert_eq!(
            message(r#"{"avsAddress":5,"taskId":"t","payload":1}"#),
            "avsAddress must be a string, got a number"
        );
        assert_eq!(
            message(&format!(r#"{{"avsAddress":"{AVS}","taskId":7,"payload":1}}"#)),
            "taskId must be a string, got a number"
        );
        assert!(
            message(r#"{"avsAddress":"0x12","taskId":"t","payload":1}"#).starts_with("avsAddress: invalid address")
        );
        assert!(
            message(&format!(
                r#"{{"avsAddress":"{AVS}","taskId":"t","payload":1,"operatorSetId":-1}}"#
            ))
            .contains("operatorSetId must be an integer")
        );
    }

    #[test]
    fn operator_set_id_may_be_a_number_or_a_decimal_string() {
        for id in ["3", "\"3\""] {
            let body = format!(r#"{{"avsAddress":"{AVS}","taskId":"t","payload":null,"operatorSetId":{id}}}"#);
            let task = parse_perform(body.as_bytes()).unwrap();
            assert_eq!(task.selector.operator_set_id, Some(3));
            assert_eq!(task.payload, Value::Null);
        }
    }
}
