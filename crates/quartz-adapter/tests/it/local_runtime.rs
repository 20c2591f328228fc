//! The adapter's backends for Quartz's local runtime — plain HTTP (`quartz adapter
//! --local-runtime`) and in-process (`quartz up`) — answer every outcome as the AWS SDK backend
//! does: results, function errors, timeouts, a missing function, health, throttling.

use quartz_core::FunctionName;
use serde_json::{Value, json};

use crate::harness::{AVS_A, AVS_B, Adapter, Env, b64, perform_body, set};

/// What a client sees of an answer: its status and everything but the ids of the request and
/// of the function instance that served it.
fn seen((status, mut body): (u16, Value)) -> (u16, Value) {
    if let Some(result) = body.get_mut("result").and_then(Value::as_object_mut) {
        result.remove("requestId");
        result.remove("previousRequestId");
        result.remove("instanceId");
    }
    // A platform timeout names its request: `RequestId: <uuid> Error: Task timed out…`.
    if let Some(error) = body.get("error").and_then(Value::as_str)
        && let Some((_, rest)) = error.strip_prefix("RequestId: ").and_then(|e| e.split_once(' '))
    {
        body["error"] = format!("RequestId: * {rest}").into();
    }
    (status, body)
}

/// The gRPC health service's answer, which probes the function's `live` alias.
async fn health(adapter: &Adapter) -> Value {
    adapter.grpc(json!({"method": "Check"})).await["status"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_runtime_backends_answer_as_the_sdk_backend_does() {
    let env = Env::start_with(|c| c.queue_wait_ms = 50).await;
    let target = set(AVS_A, 0);
    env.deploy(target, 2).await;
    let (sdk, local) = (env.single(target).await, env.single_local(target).await);
    let in_process = env.single_in_process(target).await;

    let cases = [
        json!({"operation": "compute", "params": {"a": 5, "b": 3}}),
        json!({"operation": "transform", "params": {"text": "quartz"}}),
        json!({"operation": "fail", "params": {"message": "bad input 42"}}),
        json!({"operation": "sleep", "params": {"ms": 5000}}),
    ];
    let mut statuses = Vec::new();
    for payload in cases {
        let body = perform_body(AVS_A, payload);
        let (by_sdk, by_local, by_in_process) =
            tokio::join!(sdk.perform(&body), local.perform(&body), in_process.perform(&body));
        let (by_sdk, by_local, by_in_process) = (seen(by_sdk), seen(by_local), seen(by_in_process));
        assert_eq!(by_local, by_sdk, "for {body}");
        assert_eq!(by_in_process, by_sdk, "for {body}");
        statuses.push(by_local.0);
    }
    // Not one outcome four times: a result, a function error, a platform timeout.
    assert_eq!(statuses, [200, 200, 502, 504]);
    for adapter in [&sdk, &local, &in_process] {
        assert_eq!(health(adapter).await, "SERVING");
    }

    // An operator set with no function: 503 from each, naming it.
    let missing = set(AVS_B, 7);
    let (sdk_missing, local_missing) = (env.single(missing).await, env.single_local(missing).await);
    let in_process_missing = env.single_in_process(missing).await;
    let body = perform_body(AVS_B, json!({"operation": "compute", "params": {"a": 1, "b": 1}}));
    let (by_sdk, by_local, by_in_process) = tokio::join!(
        sdk_missing.perform(&body),
        local_missing.perform(&body),
        in_process_missing.perform(&body)
    );
    assert_eq!(by_local, by_sdk);
    assert_eq!(by_in_process, by_sdk);
    assert_eq!(by_local.0, 503, "{}", by_local.1);
    let name = FunctionName::for_operator_set(&missing);
    let error = by_local.1["error"].as_str().unwrap();
    assert!(
        error.contains(name.as_str()) && error.contains("does not exist"),
        "{error}"
    );
    for adapter in [&sdk_missing, &local_missing, &in_process_missing] {
        assert_eq!(health(adapter).await, "NOT_SERVING");
    }

    // Reserved concurrency 0: every invoke is throttled (429), retried until the caller's
    // deadline, then refused; never a function error.
    env.client
        .put_function_concurrency()
        .function_name(FunctionName::for_operator_set(&target).as_str())
        .reserved_concurrent_executions(0)
        .send()
        .await
        .unwrap();
    let execute = json!({"method": "ExecuteTask", "taskIdB64": b64(b"t"), "payloadB64": b64(b"{}"), "timeout": 1.0});
    for adapter in [&local, &in_process] {
        let out = adapter.grpc(execute.clone()).await;
        assert!(
            matches!(out["code"].as_str(), Some("UNAVAILABLE" | "DEADLINE_EXCEEDED")),
            "{out}"
        );
    }
    let metrics = local.metrics().await;
    assert!(metrics.contains("quartz_adapter_throttle_retries_total"), "{metrics}");
}
