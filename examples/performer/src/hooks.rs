//! Failure modes for testing a function platform with one image. Invocation hooks only run when
//! `PERFORMER_TEST_HOOKS=1` is set in the function's environment.
//!
//! | operation | params | effect |
//! | --- | --- | --- |
//! | `sleep` | `ms` | sleeps, e.g. past the function timeout |
//! | `exit` | `code` | the process exits mid-invocation |
//! | `fail` | `message` | a handled error reported through the Runtime API |
//! | `huge` | `bytes` | a response of that many bytes |
//! | `probe` | `paths`, `writePaths`, `env` | reports which paths are readable/writable and which env vars are set |
//! | `stale` | | posts `/response` for an unknown and for the previous request id; reports the statuses |
//!
//! `PERFORMER_FAIL_INIT=report` reports an init error through `/runtime/init/error` and exits;
//! `PERFORMER_FAIL_INIT=exit` exits with status 3 before contacting the Runtime API.

use std::io::{Read, Write};
use std::time::Duration;

use lambda_runtime::Error;
use serde_json::{Map, Value, json};

const HOOKS: &[&str] = &["sleep", "exit", "fail", "huge", "probe", "stale"];

pub fn is_hook(operation: &str) -> bool {
    HOOKS.contains(&operation)
}

pub async fn run(operation: &str, params: &Value, previous_request: Option<String>) -> Result<Value, Error> {
    let int = |name: &str| params.get(name).and_then(Value::as_u64).unwrap_or(0);
    match operation {
        "sleep" => {
            tokio::time::sleep(Duration::from_millis(int("ms"))).await;
            Ok(json!({"sleptMs": int("ms")}))
        }
        "exit" => std::process::exit(i32::try_from(int("code")).unwrap_or(1)),
        "fail" => Err(params
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("requested failure")
            .into()),
        "huge" => Ok(Value::String("x".repeat(usize::try_from(int("bytes")).unwrap_or(0)))),
        "probe" => Ok(probe(params)),
        "stale" => {
            let status = |id: &str| {
                post_runtime(&format!("/2018-06-01/runtime/invocation/{id}/response"), "{}", None)
                    .map_or(Value::Null, Value::from)
            };
            Ok(json!({
                "unknown": status("00000000-0000-0000-0000-000000000000"),
                "previous": previous_request.as_deref().map_or(Value::Null, status),
            }))
        }
        _ => Ok(Value::Null),
    }
}

fn probe(params: &Value) -> Value {
    let strings = |name: &str| -> Vec<String> {
        params
            .get(name)
            .and_then(Value::as_array)
            .map_or_else(Vec::new, |items| {
                items.iter().filter_map(Value::as_str).map(str::to_string).collect()
            })
    };
    let mut readable = Map::new();
    for path in strings("paths") {
        readable.insert(path.clone(), Value::Bool(std::fs::read(&path).is_ok()));
    }
    let mut writable = Map::new();
    for path in strings("writePaths") {
        writable.insert(path.clone(), Value::Bool(std::fs::write(&path, b"probe").is_ok()));
    }
    let mut env = Map::new();
    for name in strings("env") {
        env.insert(name.clone(), std::env::var(&name).map_or(Value::Null, Value::String));
    }
    json!({"readable": readable, "writable": writable, "env": env, "cwd": std::env::current_dir().ok()})
}

/// A random id from /dev/urandom, falling back to the clock when it is unavailable.
pub fn instance_id() -> String {
    let mut bytes = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails initialisation when `PERFORMER_FAIL_INIT` asks for it. `lambda_runtime` has no public
/// call for `/init/error`, so this speaks the documented Runtime API directly.
pub fn init_failure_if_requested() {
    match std::env::var("PERFORMER_FAIL_INIT").as_deref() {
        Ok("report") => {
            let body = r#"{"errorType":"Performer.InitFailed","errorMessage":"init failed on purpose (PERFORMER_FAIL_INIT=report)"}"#;
            if let Err(e) = post_runtime("/2018-06-01/runtime/init/error", body, Some("Performer.InitFailed")) {
                eprintln!("cannot report the init error: {e}");
            }
            std::process::exit(1);
        }
        Ok("exit") => {
            eprintln!("exiting during init on purpose (PERFORMER_FAIL_INIT=exit)");
            std::process::exit(3);
        }
        _ => {}
    }
}

/// A minimal HTTP/1.1 POST to the Runtime API; returns the response status.
fn post_runtime(path: &str, body: &str, error_type: Option<&str>) -> std::io::Result<u16> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(std::io::Error::other)?;
    let mut stream = std::net::TcpStream::connect(&api)?;
    let extra = error_type.map_or_else(String::new, |t| format!("Lambda-Runtime-Function-Error-Type: {t}\r\n"));
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))
}
