use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use quartz_adapter::{AdapterConfig, AdapterDeps};
use quartz_factory::ExecutionOutcome;
use quartz_lambda_client::LambdaClientConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::{AVS, Env, release, set};

const CLIENTS: usize = 4;

/// What one client saw: the performer version of each answer, in order, and the failures.
#[derive(Default)]
struct Seen {
    versions: Vec<String>,
    failures: Vec<String>,
    slowest: Duration,
}

#[tokio::test]
async fn release_2_flips_live_under_continuous_traffic_through_the_adapter_without_a_failed_task() {
    let env = Env::start().await;
    let s = set(50);
    assert!(matches!(
        env.deploy(release(s, 1, &env.v1)).await,
        ExecutionOutcome::Succeeded { .. }
    ));

    let config = AdapterConfig {
        avs_address: Some(AVS.to_string()),
        operator_set_id: Some(s.id.to_string()),
        lambda: LambdaClientConfig {
            endpoint: Some(env.runtime.endpoint()),
            ..LambdaClientConfig::default()
        },
        function_timeout_secs: 30,
        ..AdapterConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/perform", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let deps = AdapterDeps {
        store: None,
        lambda: Some(env.lambda.clone()),
        local_runtime: None,
    };
    tokio::spawn(quartz_adapter::serve(config, deps, listener, shutdown.clone()));

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (url, stop) = (url.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut seen = Seen::default();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body =
                        json!({"avsAddress": AVS, "taskId": format!("c{c}-{n}"), "payload": {"operation": "echo"}});
                    let started = Instant::now();
                    match http.post(&url).json(&body).send().await {
                        Ok(response) => {
                            let status = response.status();
                            let answer: Value = response.json().await.unwrap_or(Value::Null);
                            match answer["result"]["version"].as_str() {
                                Some(v) if status.is_success() && answer["success"] == true => {
                                    seen.versions.push(v.to_string())
                                }
                                _ => seen.failures.push(format!("{status}: {answer}")),
                            }
                        }
                        Err(e) => seen.failures.push(e.to_string()),
                    }
                    seen.slowest = seen.slowest.max(started.elapsed());
                }
                seen
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    let deploy_started = Instant::now();
    assert!(matches!(
        env.deploy(release(s, 2, &env.v2)).await,
        ExecutionOutcome::Succeeded { .. }
    ));
    let deploy_took = deploy_started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    let mut slowest = Duration::ZERO;
    for client in clients {
        let seen = client.await.unwrap();
        assert!(seen.failures.is_empty(), "failed tasks: {:?}", seen.failures);
        // Each client moves from v1 to v2 once and never back.
        let first_v2 = seen.versions.iter().position(|v| v == "v2").expect("a v2 answer");
        assert!(seen.versions[..first_v2].iter().all(|v| v == "v1"));
        assert!(seen.versions[first_v2..].iter().all(|v| v == "v2"));
        assert!(first_v2 > 0, "no v1 answer before the flip");
        total += seen.versions.len();
        slowest = slowest.max(seen.slowest);
    }
    eprintln!(
        "{total} tasks from {CLIENTS} clients, none failed; deploy of release 2 took {deploy_took:?}; slowest task {slowest:?}"
    );
    shutdown.cancel();
}
