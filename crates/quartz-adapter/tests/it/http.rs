use serde_json::json;

use crate::harness::{AVS_A, AVS_C, Env, perform_body, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perform_compute_returns_sum_and_product_and_errors_keep_their_message() {
    let env = Env::start().await;
    let target = set(AVS_A, 0);
    env.deploy(target, 2).await;
    let adapter = env.single(target).await;

    let (status, body) = adapter
        .perform(&perform_body(
            AVS_A,
            json!({"operation": "compute", "params": {"a": 5, "b": 3}}),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["result"]["result"]["sum"], 8.0);
    assert_eq!(body["result"]["result"]["product"], 15.0);
    // The event carried the configured operator set and the task id.
    assert_eq!(body["result"]["taskId"], "task-1");
    assert_eq!(body["result"]["avsAddress"], AVS_A);
    assert_eq!(body["result"]["operatorSetId"], 0);

    // The function's own error message, not "Lambda error: Unhandled".
    let (status, body) = adapter
        .perform(&perform_body(
            AVS_A,
            json!({"operation": "fail", "params": {"message": "bad input 42"}}),
        ))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "bad input 42");
    // The performer's own error type, not the Rust type name of a boxed error.
    assert_eq!(body["errorType"], "TaskFailed", "{body}");

    // A function timeout (2 s) is a 504 with the platform's message.
    let (status, body) = adapter
        .perform(&perform_body(
            AVS_A,
            json!({"operation": "sleep", "params": {"ms": 5000}}),
        ))
        .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["success"], false);
    assert!(body["error"].as_str().unwrap().contains("timed out"), "{body}");
    assert_eq!(body["errorType"], "Sandbox.Timedout");

    // Another AVS is not served by a single-performer adapter.
    let (status, body) = adapter.perform(&perform_body(AVS_C, json!({}))).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains(AVS_A), "{body}");

    // Health and metrics.
    let health = adapter.http.get(adapter.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // The wrong method gets a JSON error that names the right one.
    let wrong = adapter.http.get(adapter.url("/perform")).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "POST");
    let wrong: serde_json::Value = wrong.json().await.unwrap();
    assert!(
        wrong["error"]
            .as_str()
            .unwrap()
            .starts_with("GET is not allowed on /perform"),
        "{wrong}"
    );
    let metrics = adapter.metrics().await;
    assert!(metrics.contains("quartz_adapter_tasks_total"), "{metrics}");
    assert!(metrics.contains("quartz_adapter_errors_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_specific_400s_and_oversized_payloads_413_before_any_invoke() {
    let env = Env::start().await;
    // Nothing is deployed: any request that reached the platform would fail with 503, so a
    // 400 or 413 proves that nothing was invoked.
    let adapter = env.single(set(AVS_A, 0)).await;

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"avsAddress\": ".to_vec(), "the request body is not valid JSON"),
        (b"".to_vec(), "the request body is not valid JSON"),
        (b"[1]".to_vec(), "must be a JSON object"),
        (br#"{"taskId":"t","payload":{}}"#.to_vec(), "missing field avsAddress"),
        (
            format!(r#"{{"avsAddress":"{AVS_A}","payload":{{}}}}"#).into_bytes(),
            "missing field taskId",
        ),
        (
            format!(r#"{{"avsAddress":"{AVS_A}","taskId":"t"}}"#).into_bytes(),
            "missing field payload",
        ),
        (
            br#"{"avsAddress":42,"taskId":"t","payload":{}}"#.to_vec(),
            "avsAddress must be a string, got a number",
        ),
        (
            format!(r#"{{"avsAddress":"{AVS_A}","taskId":["t"],"payload":{{}}}}"#).into_bytes(),
            "taskId must be a string, got an array",
        ),
        (
            br#"{"avsAddress":"0x1234","taskId":"t","payload":{}}"#.to_vec(),
            "avsAddress: invalid address",
        ),
        (
            format!(r#"{{"avsAddress":"{AVS_A}","taskId":"t","payload":{{}},"operatorSetId":true}}"#).into_bytes(),
            "operatorSetId must be an integer",
        ),
    ];
    let rejected_before = http_tasks(&adapter, "bad_request").await;
    let count = cases.len() as f64;
    for (body, expected) in cases {
        let text = String::from_utf8_lossy(&body).into_owned();
        let (status, answer) = adapter.perform_raw(body).await;
        assert_eq!(status, 400, "{text} → {answer}");
        assert_eq!(answer["success"], false);
        let message = answer["error"].as_str().unwrap();
        assert!(
            message.contains(expected),
            "{text} → {message:?}, expected {expected:?}"
        );
    }

    // Every refused task is counted (other tests in this binary can only add to the count).
    assert!(http_tasks(&adapter, "bad_request").await - rejected_before >= count);

    let big = "x".repeat(7 * 1024 * 1024);
    let (status, answer) = adapter.perform(&perform_body(AVS_A, json!({"blob": big}))).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("6291456"), "{answer}");

    // The same request at a normal size does reach the platform (and fails there: not deployed).
    let (status, answer) = adapter.perform(&perform_body(AVS_A, json!({"blob": "x"}))).await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("does not exist"), "{answer}");
}

/// `quartz_adapter_tasks_total{protocol="http",outcome}` from the adapter's /metrics.
async fn http_tasks(adapter: &crate::harness::Adapter, outcome: &str) -> f64 {
    let metrics = adapter.metrics().await;
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("quartz_adapter_tasks_total{")
                && l.contains(r#"protocol="http""#)
                && l.contains(&format!(r#"outcome="{outcome}""#))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}
