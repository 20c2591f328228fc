//! The operations of the seed's example performer, on Quartz's event schema.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_runtime::{Diagnostic, Error};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::hooks;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskEvent {
    #[serde(default)]
    avs_address: Option<String>,
    #[serde(default)]
    operator_set_id: Option<u32>,
    #[serde(default)]
    task_id: Option<String>,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    payload_encoding: Option<String>,
}

pub struct State {
    /// Distinguishes instances (processes) in answers, so callers can see warm reuse and scaling.
    instance_id: String,
    /// From the image config, so callers can tell which image answered.
    version: String,
    hooks_enabled: bool,
    /// The previous invocation's request id, for the `stale` hook.
    previous_request: std::sync::Mutex<Option<String>>,
}

impl State {
    pub fn new() -> Self {
        Self {
            instance_id: hooks::instance_id(),
            version: std::env::var("PERFORMER_VERSION").unwrap_or_else(|_| "dev".into()),
            hooks_enabled: std::env::var("PERFORMER_TEST_HOOKS").is_ok_and(|v| v == "1"),
            previous_request: std::sync::Mutex::new(None),
        }
    }

    /// A failed task reports `TaskFailed` as its error type: the default would be the Rust type
    /// name of a boxed error, which says nothing to the caller.
    pub async fn handle(&self, event: Value, request_id: String) -> Result<Value, Diagnostic> {
        let previous = self
            .previous_request
            .lock()
            .ok()
            .and_then(|mut p| p.replace(request_id));
        self.answer(event, previous).await.map_err(|e| Diagnostic {
            error_type: "TaskFailed".into(),
            error_message: e.to_string(),
        })
    }

    async fn answer(&self, event: Value, previous_request: Option<String>) -> Result<Value, Error> {
        if event.get("type").and_then(Value::as_str) == Some("quartz.healthcheck") {
            return Ok(json!({"status": "ok", "version": self.version}));
        }
        let task: TaskEvent = serde_json::from_value(event)?;
        if task.payload_encoding.as_deref() == Some("base64") {
            // Raw bytes in, the exact bytes out.
            let encoded = task
                .payload
                .as_str()
                .ok_or("payloadEncoding is base64 but payload is not a string")?;
            let bytes = STANDARD.decode(encoded)?;
            return Ok(json!({"resultBase64": STANDARD.encode(bytes)}));
        }
        let operation = task
            .payload
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or("echo")
            .to_string();
        let params = task.payload.get("params").cloned().unwrap_or(Value::Null);
        let result = match operation.as_str() {
            "compute" => compute(&params)?,
            "transform" => transform(&params)?,
            "async" => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                json!({"waitedMs": 1000})
            }
            other if self.hooks_enabled && hooks::is_hook(other) => {
                hooks::run(other, &params, previous_request).await?
            }
            _ => json!({"echo": task.payload}),
        };
        Ok(json!({
            "taskId": task.task_id,
            "avsAddress": task.avs_address,
            "operatorSetId": task.operator_set_id,
            "operation": operation,
            "result": result,
            "instanceId": self.instance_id,
            "version": self.version,
        }))
    }
}

fn compute(params: &Value) -> Result<Value, Error> {
    let number = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("compute needs a number {name}"))
    };
    let (a, b) = (number("a")?, number("b")?);
    Ok(json!({"sum": a + b, "product": a * b}))
}

fn transform(params: &Value) -> Result<Value, Error> {
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .ok_or("transform needs a string text")?;
    Ok(json!({
        "uppercase": text.to_uppercase(),
        "length": text.chars().count(),
        "reversed": text.chars().rev().collect::<String>(),
    }))
}
