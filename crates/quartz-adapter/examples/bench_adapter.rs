//! Benchmark of the adapter's overhead (not a test: it reports numbers).
//!
//! `scripts/bench-adapter.sh`, or `cargo run --release -p quartz-adapter --example bench`.
//! Invokes the example performer's `compute` on the local runtime directly (the SDK, `live`
//! alias) and through the adapter's `POST /perform`, at concurrency 1 and 16, and reports
//! p50/p99 latency, the latency the adapter adds, and requests per second.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, LastUpdateStatus, State};
use quartz_adapter::{AdapterConfig, AdapterDeps};
use quartz_core::{FunctionName, OperatorSet};
use quartz_lambda_client::LambdaClientConfig;
use quartz_runtime::RuntimeConfig;
use quartz_testkit::{OciRegistry, performer_binary};
use tokio_util::sync::CancellationToken;

const AVS: &str = "0x8e14db002737f89745bc98f987caeb18d0d47635";

#[tokio::main]
async fn main() {
    let registry = OciRegistry::start();
    let binary = std::fs::read(performer_binary()).unwrap();
    let image = quartz_oci::binary_image(&binary, &[]).unwrap();
    let image = quartz_oci::push(&image, &format!("{}/performer:bench", registry.host()), true)
        .await
        .unwrap()
        .to_string();
    let data = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        allowed_registries: vec![registry.host()],
        insecure_registries: vec![registry.host()],
        default_concurrency: 16,
        ..RuntimeConfig::default()
    };
    let store = quartz_store::Store::open_in(data.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime = quartz_runtime::serve(config, data.path(), store, listener, CancellationToken::new())
        .await
        .unwrap();
    let client = Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
            .endpoint_url(runtime.endpoint())
            .build(),
    );
    let set = OperatorSet::new(AVS.parse().unwrap(), 0);
    let name = FunctionName::for_operator_set(&set);
    deploy(&client, name.as_str(), &image).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let adapter_addr = listener.local_addr().unwrap();
    let adapter_config = AdapterConfig {
        avs_address: Some(AVS.into()),
        operator_set_id: Some("0".into()),
        lambda: LambdaClientConfig {
            endpoint: Some(runtime.endpoint()),
            region: "us-east-1".into(),
        },
        function_timeout_secs: 30,
        ..AdapterConfig::default()
    };
    tokio::spawn(quartz_adapter::serve(
        adapter_config,
        AdapterDeps::default(),
        listener,
        CancellationToken::new(),
    ));

    let payload = serde_json::json!({"operation": "compute", "params": {"a": 2, "b": 3}});
    let event = serde_json::to_vec(&serde_json::json!({
        "avsAddress": AVS, "operatorSetId": 0, "taskId": "bench", "payload": payload,
    }))
    .unwrap();
    let body =
        serde_json::to_vec(&serde_json::json!({"avsAddress": AVS, "taskId": "bench", "payload": payload})).unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://{adapter_addr}/perform");

    let direct = {
        let client = client.clone();
        let name = name.to_string();
        Arc::new(move || {
            let call = client
                .invoke()
                .function_name(&name)
                .qualifier("live")
                .payload(Blob::new(event.clone()));
            async move {
                let out = call.send().await.unwrap();
                assert!(out.function_error().is_none());
            }
        })
    };
    let through_adapter = {
        Arc::new(move || {
            let call = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone());
            async move {
                let response = call.send().await.unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
            }
        })
    };

    // Warm up: instances for concurrency 16 on both paths.
    run(direct.clone(), 16, 64).await;
    run(through_adapter.clone(), 16, 64).await;

    println!("adapter overhead, example performer `compute` on the local runtime");
    for (concurrency, total) in [(1, 400), (16, 1600)] {
        let (d50, d99, drps) = run(direct.clone(), concurrency, total).await;
        let (a50, a99, arps) = run(through_adapter.clone(), concurrency, total).await;
        println!(
            "concurrency {concurrency:>2}: direct p50 {:>7.2} ms p99 {:>7.2} ms {drps:>7.0} req/s | \
             adapter p50 {:>7.2} ms p99 {:>7.2} ms {arps:>7.0} req/s | added p50 {:>6.2} ms p99 {:>6.2} ms",
            ms(d50),
            ms(d99),
            ms(a50),
            ms(a99),
            ms(a50) - ms(d50),
            ms(a99) - ms(d99),
        );
    }
    runtime.shutdown().await.unwrap();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `total` calls with `concurrency` in flight; returns p50, p99 and calls per second.
async fn run<F, Fut>(call: Arc<F>, concurrency: usize, total: usize) -> (Duration, Duration, f64)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let per_worker = total / concurrency;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_worker);
                for _ in 0..per_worker {
                    let t = Instant::now();
                    call().await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (pick(0.50), pick(0.99), latencies.len() as f64 / elapsed.as_secs_f64())
}

async fn deploy(client: &Client, name: &str, image: &str) {
    client
        .create_function()
        .function_name(name)
        .role("arn:aws:iam::000000000000:role/bench")
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .code(FunctionCode::builder().image_uri(image).build())
        .timeout(30)
        .send()
        .await
        .unwrap();
    loop {
        let config = client
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap();
        if config.state() != Some(&State::Pending) && config.last_update_status() != Some(&LastUpdateStatus::InProgress)
        {
            assert_eq!(config.state(), Some(&State::Active));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let version = client.publish_version().function_name(name).send().await.unwrap();
    client
        .create_alias()
        .function_name(name)
        .name("live")
        .function_version(version.version().unwrap())
        .send()
        .await
        .unwrap();
}
