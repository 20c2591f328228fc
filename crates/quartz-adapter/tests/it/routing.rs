use quartz_core::FunctionName;
use quartz_core::registry::PerformerStatus;
use serde_json::json;

use crate::harness::{AVS_A, AVS_B, AVS_C, Env, b64, perform_body, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_avs_mode_routes_through_the_registry() {
    let env = Env::start().await;
    for target in [set(AVS_A, 0), set(AVS_A, 12), set(AVS_B, 3)] {
        let function = env.deploy(target, 5).await;
        env.register(target, &function, PerformerStatus::Active).await;
    }
    let adapter = env.multi().await;
    let echo = json!({"operation": "transform", "params": {"text": "abc"}});

    // One performer for the AVS: no operatorSetId needed.
    let (status, body) = adapter.perform(&perform_body(AVS_B, echo.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["operatorSetId"], 3);
    assert_eq!(body["result"]["result"]["uppercase"], "ABC");

    // Several: ambiguous without it, routed with it (the short function name form for 12).
    let (status, body) = adapter.perform(&perform_body(AVS_A, echo.clone())).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("0, 12") && message.contains("operatorSetId"),
        "{message}"
    );
    let mut request = perform_body(AVS_A, echo.clone());
    request["operatorSetId"] = json!(12);
    let (status, body) = adapter.perform(&request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["operatorSetId"], 12);

    // Unregistered AVS and unregistered operator set: 404 with a clear error.
    let (status, body) = adapter.perform(&perform_body(AVS_C, echo.clone())).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], format!("no performer is registered for AVS {AVS_C}"));
    request["operatorSetId"] = json!(7);
    let (status, body) = adapter.perform(&request).await;
    assert_eq!(status, 404, "{body}");

    // A performer registered after the adapter started is found (the snapshot reloads on a miss).
    let function = env.deploy(set(AVS_C, 1), 5).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    env.register(set(AVS_C, 1), &function, PerformerStatus::Active).await;
    let (status, body) = adapter.perform(&perform_body(AVS_C, echo.clone())).await;
    assert_eq!(status, 200, "{body}");

    // Inactive performers are not invoked.
    env.register(
        set(AVS_B, 3),
        &FunctionName::for_operator_set(&set(AVS_B, 3)),
        PerformerStatus::Inactive,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let (status, body) = adapter.perform(&perform_body(AVS_B, echo.clone())).await;
    assert_eq!(status, 404, "{body}");

    // gRPC picks the performer by metadata.
    let call = |metadata: serde_json::Value| {
        json!({
            "method": "ExecuteTask",
            "taskIdB64": b64(b"g1"),
            "payloadB64": b64(br#"{"operation":"compute","params":{"a":1,"b":2}}"#),
            "metadata": metadata,
        })
    };
    let out = adapter
        .grpc(call(json!([
            ["x-quartz-avs-address", AVS_A],
            ["x-quartz-operator-set-id", "12"]
        ])))
        .await;
    assert_eq!(out["code"], "OK", "{out}");
    let out = adapter.grpc(call(json!([["x-quartz-avs-address", AVS_A]]))).await;
    assert_eq!(out["code"], "INVALID_ARGUMENT", "{out}");
    let out = adapter.grpc(call(json!([]))).await;
    assert_eq!(out["code"], "INVALID_ARGUMENT", "{out}");
    assert!(
        out["details"].as_str().unwrap().contains("x-quartz-avs-address"),
        "{out}"
    );
    let out = adapter.grpc(call(json!([["x-quartz-avs-address", AVS_B]]))).await;
    assert_eq!(out["code"], "NOT_FOUND", "{out}");
    let out = adapter
        .grpc(json!({"method": "HealthCheck", "metadata": [["x-quartz-avs-address", AVS_C]]}))
        .await;
    assert_eq!(out["status"], "READY_FOR_TASK", "{out}");
    // Without metadata, HealthCheck asks whether the platform answers at all.
    let out = adapter.grpc(json!({"method": "HealthCheck"})).await;
    assert_eq!(out["status"], "READY_FOR_TASK", "{out}");
    // An unknown method on the shared port is gRPC's UNIMPLEMENTED, not an HTTP 404.
    let out = adapter
        .grpc(json!({"method": "Raw", "path": "/eigenlayer.hourglass.v1.performer.PerformerService/Nope"}))
        .await;
    assert_eq!(out["code"], "UNIMPLEMENTED", "{out}");
    let out = adapter
        .grpc(json!({"method": "Raw", "path": "/other.Service/Method"}))
        .await;
    assert_eq!(out["code"], "UNIMPLEMENTED", "{out}");
    // Bytes that are not a TaskRequest are the caller's mistake, not the server's.
    let out = adapter
        .grpc(json!({
            "method": "Raw",
            "path": "/eigenlayer.hourglass.v1.performer.PerformerService/ExecuteTask",
            "payloadB64": b64(b"\xff\xff\xff\xff"),
            "metadata": [["x-quartz-avs-address", AVS_C]],
        }))
        .await;
    assert_eq!(out["code"], "INVALID_ARGUMENT", "{out}");
    assert!(out["details"].as_str().unwrap().contains("decode"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_invocations_are_retried_within_the_deadline() {
    let env = Env::start_with(|c| c.queue_wait_ms = 50).await;
    let target = set(AVS_A, 0);
    env.deploy(target, 10).await;
    env.client
        .put_function_concurrency()
        .function_name(FunctionName::for_operator_set(&target).as_str())
        .reserved_concurrent_executions(1)
        .send()
        .await
        .unwrap();
    let adapter = env.single(target).await;
    let slow = perform_body(AVS_A, json!({"operation": "async"}));
    let (first, second) = tokio::join!(adapter.perform(&slow), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        adapter.perform(&slow).await
    });
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(second.0, 200, "{}", second.1);
    let metrics = adapter.metrics().await;
    assert!(metrics.contains("quartz_adapter_throttle_retries_total"), "{metrics}");
}
