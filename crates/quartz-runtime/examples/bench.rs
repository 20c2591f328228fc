//! Benchmark of the local runtime with the example performer (not a test: it reports numbers).
//!
//! `scripts/bench-runtime.sh` or `cargo run --release -p quartz-runtime --example bench`.
//! Reports cold start (first invoke of a new function, instance start included), warm invoke
//! latency p50/p99, and requests per second at concurrency 1, 4 and 16.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: failing loudly is right

use std::time::{Duration, Instant};

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, State};
use quartz_runtime::RuntimeConfig;
use quartz_testkit::{OciRegistry, performer_binary};

const EVENT: &[u8] =
    br#"{"avsAddress":"0x00","operatorSetId":0,"taskId":"b","payload":{"operation":"compute","params":{"a":2,"b":3}}}"#;

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
    let runtime = quartz_runtime::serve(config, data.path(), store, listener, Default::default())
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

    let mut colds = Vec::new();
    for i in 0..5 {
        let name = format!("bench-{i}");
        create(&client, &name, &image).await;
        let started = Instant::now();
        invoke(&client, &name).await;
        colds.push(started.elapsed());
    }
    colds.sort();
    println!(
        "cold start (first invoke of a new function: sandbox + init + answer; image cached): median {:?} over {} functions",
        colds[colds.len() / 2],
        colds.len()
    );

    let mut warm = Vec::new();
    for _ in 0..500 {
        let started = Instant::now();
        invoke(&client, "bench-0").await;
        warm.push(started.elapsed());
    }
    warm.sort();
    println!(
        "warm invoke: p50 {:?}  p99 {:?}  (n = {})",
        warm[warm.len() / 2],
        warm[warm.len() * 99 / 100],
        warm.len()
    );

    for concurrency in [1usize, 4, 16] {
        let deadline = Instant::now() + Duration::from_secs(5);
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        invoke(&client, "bench-1").await;
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        let started = Instant::now();
        let mut total = 0;
        for worker in workers {
            total += worker.await.unwrap();
        }
        println!(
            "concurrency {concurrency:>2}: {:.0} req/s",
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
    runtime.shutdown().await.unwrap();
}

async fn create(client: &Client, name: &str, image: &str) {
    client
        .create_function()
        .function_name(name)
        .code(FunctionCode::builder().image_uri(image).build())
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
        if config.state() == Some(&State::Active) {
            return;
        }
        assert_ne!(config.state(), Some(&State::Failed), "{config:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn invoke(client: &Client, name: &str) {
    let out = client
        .invoke()
        .function_name(name)
        .payload(Blob::new(EVENT))
        .send()
        .await
        .unwrap();
    assert!(out.function_error().is_none(), "{:?}", out.payload());
}
