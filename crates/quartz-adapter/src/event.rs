//! The event sent to a function and the mapping of its answer (DESIGN.md, "Event sent to a
//! function").

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use quartz_core::OperatorSet;
use serde::Serialize;
use serde_json::Value;

use crate::TaskError;

/// Lambda's limit on a synchronous invocation's request (and response): 6 MB.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;

/// How a gRPC payload was put into the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadEncoding {
    /// The bytes were UTF-8 JSON; `payload` is that JSON value.
    Json,
    /// Anything else; `payload` is the bytes in standard base64.
    Base64,
}

/// `{"avsAddress","operatorSetId","taskId","payload","payloadEncoding"?}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEvent<'a> {
    pub avs_address: String,
    pub operator_set_id: u32,
    pub task_id: &'a str,
    pub payload: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_encoding: Option<PayloadEncoding>,
}

impl<'a> TaskEvent<'a> {
    pub fn new(set: OperatorSet, task_id: &'a str, payload: &'a Value, encoding: Option<PayloadEncoding>) -> Self {
        Self {
            avs_address: set.avs.to_string(),
            operator_set_id: set.id,
            task_id,
            payload,
            payload_encoding: encoding,
        }
    }

    /// The serialized event, refused before any invoke when Lambda would refuse it.
    pub fn to_bytes(&self) -> Result<Bytes, TaskError> {
        let bytes = serde_json::to_vec(self)
            .map_err(|e| TaskError::BadRequest(format!("the payload cannot be serialized: {e}")))?;
        if bytes.len() > MAX_SYNC_PAYLOAD {
            return Err(too_large("the task event", bytes.len()));
        }
        Ok(bytes.into())
    }
}

pub fn too_large(what: &str, len: usize) -> TaskError {
    TaskError::TooLarge(format!(
        "{what} is {len} bytes; a synchronous invocation takes at most {MAX_SYNC_PAYLOAD} bytes (6 MB)"
    ))
}

/// A gRPC payload as the event carries it: the JSON value when the bytes are UTF-8 JSON, else
/// their base64.
pub fn payload_from_bytes(bytes: &[u8]) -> (Value, PayloadEncoding) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => (value, PayloadEncoding::Json),
        Err(_) => (Value::String(STANDARD.encode(bytes)), PayloadEncoding::Base64),
    }
}

/// A gRPC task id as the event's `taskId`: the text when it is printable ASCII (the Executor
/// sends its `0x…` hex ids as text), else the bytes as `0x`-prefixed lowercase hex.
pub fn task_id_from_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => text.to_string(),
        _ => {
            let mut hex = String::with_capacity(2 + bytes.len() * 2);
            hex.push_str("0x");
            for b in bytes {
                hex.push_str(&format!("{b:02x}"));
            }
            hex
        }
    }
}

/// The bytes of a gRPC `TaskResponse.result`: the exact bytes of `resultBase64` when the
/// function returned an object with that string field, else the returned JSON.
pub fn result_bytes(value: &Value) -> Result<Vec<u8>, TaskError> {
    if let Some(Value::String(encoded)) = value.as_object().and_then(|o| o.get("resultBase64")) {
        return STANDARD
            .decode(encoded)
            .map_err(|e| TaskError::Upstream(format!("the function returned a resultBase64 that is not base64: {e}")));
    }
    serde_json::to_vec(value).map_err(|e| TaskError::Upstream(format!("cannot encode the function's result: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_bytes_stay_json_and_others_become_base64() {
        assert_eq!(
            payload_from_bytes(br#"{"a":1}"#),
            (serde_json::json!({"a": 1}), PayloadEncoding::Json)
        );
        let raw = [0xff, 0x00, 0xfe, b'{'];
        let (value, encoding) = payload_from_bytes(&raw);
        assert_eq!(encoding, PayloadEncoding::Base64);
        assert_eq!(value, Value::String(STANDARD.encode(raw)));
        assert_eq!(payload_from_bytes(b"").1, PayloadEncoding::Base64);
    }

    #[test]
    fn result_base64_means_exact_bytes() {
        let value = serde_json::json!({"resultBase64": STANDARD.encode([0u8, 0xff, 0x80])});
        assert_eq!(result_bytes(&value), Ok(vec![0, 0xff, 0x80]));
        assert_eq!(result_bytes(&serde_json::json!({"x": 1})), Ok(br#"{"x":1}"#.to_vec()));
        assert!(matches!(
            result_bytes(&serde_json::json!({"resultBase64": "!!"})),
            Err(TaskError::Upstream(_))
        ));
    }

    #[test]
    fn task_ids_are_text_or_hex() {
        assert_eq!(task_id_from_bytes(b"task-1"), "task-1");
        assert_eq!(task_id_from_bytes(&[0xde, 0xad]), "0xdead");
        assert_eq!(task_id_from_bytes(b"a\nb"), "0x610a62");
        assert_eq!(task_id_from_bytes("é".as_bytes()), "0xc3a9");
        assert_eq!(task_id_from_bytes(b"0xabc1"), "0xabc1");
        assert_eq!(task_id_from_bytes(b""), "0x");
    }
}
