use serde_json::Value;

use crate::harness::{AVS, Env, release, set};

#[tokio::test]
async fn executions_and_metrics_are_served_by_the_registry_api() {
    let env = Env::start().await;
    // Before any deploy: serving installs the metrics recorder the factory records into.
    let (base, shutdown) = env.serve_registry().await;

    let s = set(30);
    let good = release(s, 1, &env.v1);
    let bad = release(s, 2, &env.crash);
    env.deploy(good.clone()).await;
    env.deploy(bad.clone()).await;

    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let response = http.get(path).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, list) = get(format!("{base}/executions?avs={AVS}&operatorSetId=30")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["count"], 2);
    assert_eq!(list["executions"][0]["id"], quartz_factory::execution_id(&bad));
    assert_eq!(list["executions"][0]["status"], "failed");
    assert_eq!(list["executions"][0]["error"]["step"], "smoke-check");
    assert_eq!(list["executions"][1]["status"], "succeeded");

    let (_, failed) = get(format!("{base}/executions?status=failed&avs={AVS}&operatorSetId=30")).await;
    assert_eq!(failed["count"], 1);

    let (status, detail) = get(format!("{base}/executions/{}", quartz_factory::execution_id(&bad))).await;
    assert_eq!(status, 200);
    let steps = detail["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 8);
    assert_eq!(steps[5]["step"], "smoke-check");
    assert_eq!(steps[5]["status"], "failed");
    let attempt = &steps[5]["attempts"][0];
    assert_eq!(attempt["errorType"], "Smoke.Runtime.ExitError");
    assert!(
        attempt["startedAt"].is_string() && attempt["durationMs"].is_u64(),
        "{attempt}"
    );
    assert_eq!(steps[6]["status"], "pending");

    let (status, missing) = get(format!("{base}/executions/nope")).await;
    assert_eq!(status, 404);
    assert!(missing["error"].as_str().unwrap().contains("nope"));
    let (status, _) = get(format!("{base}/executions?status=bogus")).await;
    assert_eq!(status, 400);
    let (status, _) = get(format!("{base}/executions?avs={AVS}")).await;
    assert_eq!(status, 400);

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("quartz_factory_executions_total{outcome=\"failed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("quartz_factory_step_duration_seconds"), "{metrics}");
    shutdown.cancel();
}
