use serde_json::{Value, json};

use crate::harness::{AVS_A, Env, b64, set, unb64};

fn execute(task_id: &[u8], payload: &[u8]) -> Value {
    json!({"method": "ExecuteTask", "taskIdB64": b64(task_id), "payloadB64": b64(payload)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_task_from_grpcio_with_json_and_raw_bytes() {
    let env = Env::start().await;
    let target = set(AVS_A, 0);
    env.deploy(target, 2).await;
    let adapter = env.single(target).await;

    // A JSON payload reaches the function as JSON; the result is the function's JSON.
    let payload = br#"{"operation":"compute","params":{"a":6,"b":7}}"#;
    let task_id = [0xab_u8; 32];
    let out = adapter.grpc(execute(&task_id, payload)).await;
    assert_eq!(out["code"], "OK", "{out}");
    assert_eq!(unb64(&out["taskIdB64"]), task_id);
    let result: Value = serde_json::from_slice(&unb64(&out["resultB64"])).unwrap();
    assert_eq!(result["result"]["sum"], 13.0);
    assert_eq!(result["result"]["product"], 42.0);
    assert_eq!(result["taskId"], format!("0x{}", "ab".repeat(32)));

    // Arbitrary non-UTF-8 bytes go as base64 and come back exactly, through resultBase64.
    let raw: Vec<u8> = (0..=255u8).rev().chain([0xff, 0xfe, 0x00, 0xc3, 0x28]).collect();
    assert!(std::str::from_utf8(&raw).is_err());
    let out = adapter.grpc(execute(b"task-raw", &raw)).await;
    assert_eq!(out["code"], "OK", "{out}");
    assert_eq!(unb64(&out["resultB64"]), raw);
    assert_eq!(unb64(&out["taskIdB64"]), b"task-raw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_errors_map_to_status_codes() {
    let env = Env::start().await;
    let target = set(AVS_A, 0);
    env.deploy(target, 2).await;
    let adapter = env.single(target).await;

    let fail = br#"{"operation":"fail","params":{"message":"the sky fell"}}"#;
    let out = adapter.grpc(execute(b"t1", fail)).await;
    assert_eq!(out["code"], "INTERNAL", "{out}");
    assert!(out["details"].as_str().unwrap().contains("the sky fell"), "{out}");
    assert!(out["trailing"]["x-quartz-error-type"].is_string(), "{out}");

    let sleep = br#"{"operation":"sleep","params":{"ms":5000}}"#;
    let out = adapter.grpc(execute(b"t2", sleep)).await;
    assert_eq!(out["code"], "DEADLINE_EXCEEDED", "{out}");
    assert!(out["details"].as_str().unwrap().contains("timed out"), "{out}");

    // The caller's own deadline (grpc-timeout) is honoured too.
    let mut call = execute(b"t3", br#"{"operation":"sleep","params":{"ms":1500}}"#);
    call["timeout"] = json!(0.5);
    let out = adapter.grpc(call).await;
    assert_eq!(out["code"], "DEADLINE_EXCEEDED", "{out}");

    let big = vec![b'x'; 7 * 1024 * 1024];
    let out = adapter.grpc(execute(b"t4", &big)).await;
    assert_eq!(out["code"], "RESOURCE_EXHAUSTED", "{out}");
    assert!(out["details"].as_str().unwrap().contains("6291456"), "{out}");

    let mut call = execute(b"t5", b"{}");
    call["metadata"] = json!([["x-quartz-operator-set-id", "nine"]]);
    let out = adapter.grpc(call).await;
    assert_eq!(out["code"], "INVALID_ARGUMENT", "{out}");
    assert!(
        out["details"].as_str().unwrap().contains("x-quartz-operator-set-id"),
        "{out}"
    );

    let out = adapter.grpc(execute(b"", b"{}")).await;
    assert_eq!(out["code"], "INVALID_ARGUMENT", "{out}");
    assert!(out["details"].as_str().unwrap().contains("task_id"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_is_ready_for_task_only_while_the_function_is_reachable() {
    let mut env = Env::start().await;
    let target = set(AVS_A, 0);
    env.deploy(target, 2).await;
    let adapter = env.single(target).await;

    let out = adapter.grpc(json!({"method": "HealthCheck"})).await;
    assert_eq!(out["status"], "READY_FOR_TASK", "{out}");
    let out = adapter.grpc(json!({"method": "Check"})).await;
    assert_eq!(out["status"], "SERVING", "{out}");
    let out = adapter
        .grpc(json!({"method": "Check", "service": "eigenlayer.hourglass.v1.performer.PerformerService"}))
        .await;
    assert_eq!(out["status"], "SERVING", "{out}");
    let out = adapter.grpc(json!({"method": "Check", "service": "nope"})).await;
    assert_eq!(out["code"], "NOT_FOUND", "{out}");
    let out = adapter
        .grpc(json!({"method": "StartSync", "payloadB64": b64(b"x")}))
        .await;
    assert_eq!(out["code"], "OK", "{out}");

    // An adapter for an operator set with no function is not ready.
    let other = env.single(set(AVS_A, 1)).await;
    let out = other.grpc(json!({"method": "HealthCheck"})).await;
    assert_eq!(out["status"], "READY_FOR_SYNC", "{out}");

    // With the platform gone, neither is the first one; tasks are UNAVAILABLE.
    env.runtime.take().unwrap().shutdown().await.unwrap();
    let out = adapter.grpc(json!({"method": "HealthCheck"})).await;
    assert_eq!(out["status"], "READY_FOR_SYNC", "{out}");
    let out = adapter.grpc(json!({"method": "Check"})).await;
    assert_eq!(out["status"], "NOT_SERVING", "{out}");
    let out = adapter.grpc(execute(b"t", b"{}")).await;
    assert_eq!(out["code"], "UNAVAILABLE", "{out}");
}
