use std::collections::HashSet;

use aws_sdk_lambda::primitives::Blob;
use serde_json::json;

use crate::harness::{Env, json, task};

#[tokio::test]
async fn sixteen_one_second_invokes_on_a_limit_of_four_use_at_most_four_instances() {
    let env = Env::start().await;
    env.create("conc", &env.v1, 10, &[]).await;
    env.client
        .put_function_concurrency()
        .function_name("conc")
        .reserved_concurrent_executions(4)
        .send()
        .await
        .unwrap();

    let event = serde_json::to_vec(&task(json!({"operation": "async"}))).unwrap();
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let call = env
                .client
                .invoke()
                .function_name("conc")
                .payload(Blob::new(event.clone()));
            tokio::spawn(call.send())
        })
        .collect();
    let mut instances = HashSet::new();
    for call in calls {
        let out = call.await.unwrap().unwrap();
        let out = &out;
        assert_eq!(out.function_error(), None, "{:?}", out.payload());
        let body = json(out);
        assert_eq!(body["result"]["waitedMs"], 1000);
        instances.insert(body["instanceId"].as_str().unwrap().to_string());
    }
    assert!(instances.len() <= 4, "{} instances for a limit of 4", instances.len());
    assert!(instances.len() > 1, "the limit allows scaling out");
}

#[tokio::test]
async fn beyond_the_limit_invocations_are_throttled_after_the_wait() {
    let env = Env::start_with(|c| c.queue_wait_ms = 200).await;
    env.create("thr", &env.v1, 10, &[]).await;
    env.client
        .put_function_concurrency()
        .function_name("thr")
        .reserved_concurrent_executions(1)
        .send()
        .await
        .unwrap();
    let event = task(json!({"operation": "sleep", "params": {"ms": 3000}}));
    let slow = env.invoke("thr", None, &event);
    let throttled = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        env.client.invoke().function_name("thr").send().await
    };
    let (slow, throttled) = tokio::join!(slow, throttled);
    assert_eq!(slow.function_error(), None);
    let err = throttled.unwrap_err();
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    assert_eq!(err.code(), Some("TooManyRequestsException"));
}

#[tokio::test]
async fn a_response_for_a_stale_or_unknown_request_id_is_refused() {
    let env = Env::start().await;
    env.create("stale", &env.v1, 5, &[]).await;
    env.invoke("stale", None, &task(json!({"operation": "echo"}))).await;
    let out = env.invoke("stale", None, &task(json!({"operation": "stale"}))).await;
    let result = &json(&out)["result"];
    let unknown = result["unknown"].as_u64().unwrap();
    let previous = result["previous"].as_u64().unwrap();
    assert!((400..500).contains(&unknown), "unknown id answered {unknown}");
    assert!(
        (400..500).contains(&previous),
        "already answered id answered {previous}"
    );
}
