use std::sync::Arc;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use quartz_core::{Artifact, AvsAddress, FunctionName, OperatorSet, PinnedImage, Release, Sha256Digest};
use quartz_factory::{ExecutionOutcome, Factory, FactoryConfig, FactoryDeps, LocalAvailability};
use quartz_runtime::{RuntimeConfig, RuntimeHandle, serve};
use quartz_store::Store;
use quartz_testkit::{OciRegistry, performer_binary};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const AVS: &str = "0x8e14db002737f89745bc98f987caeb18d0d47635";
pub const CHAIN: u64 = 31337;

/// A registry with the example performer as v1, v2 and a build that exits during init, a local
/// runtime allowed to pull from it, and a factory on the same store.
pub struct Env {
    pub registry: OciRegistry,
    pub runtime: RuntimeHandle,
    pub lambda: Client,
    pub store: Store,
    pub factory: Factory,
    pub config: FactoryConfig,
    pub data: tempfile::TempDir,
    pub v1: PinnedImage,
    pub v2: PinnedImage,
    pub crash: PinnedImage,
}

pub async fn push(registry: &OciRegistry, tag: &str, env: &[&str]) -> PinnedImage {
    let binary = std::fs::read(performer_binary()).unwrap();
    let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
    let image = quartz_oci::binary_image(&binary, &env).unwrap();
    quartz_oci::push(&image, &format!("{}/performer:{tag}", registry.host()), true)
        .await
        .unwrap()
}

pub fn set(id: u32) -> OperatorSet {
    OperatorSet::new(AVS.parse::<AvsAddress>().unwrap(), id)
}

pub fn release(set: OperatorSet, release_id: u64, image: &PinnedImage) -> Release {
    release_of(set, release_id, image.digest, &image.repository.to_string())
}

pub fn release_of(set: OperatorSet, release_id: u64, digest: Sha256Digest, url: &str) -> Release {
    Release {
        operator_set: set,
        release_id,
        artifacts: vec![Artifact {
            digest,
            registry_url: url.to_string(),
        }],
        upgrade_by_time: 0,
    }
}

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(config)
}

impl Env {
    /// The registry API (with its web page) over this store, on `127.0.0.1:0`: its base URL and
    /// the token that stops it. Creating its state installs the metrics recorder, so call this
    /// before the factory records anything.
    pub async fn serve_registry(&self) -> (String, CancellationToken) {
        let state = quartz_registry::RegistryState::new(self.store.clone(), self.lambda.clone(), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(quartz_registry::serve(listener, state, shutdown.clone()));
        (base, shutdown)
    }

    pub async fn start() -> Self {
        let registry = OciRegistry::start();
        let v1 = push(&registry, "v1", &["PERFORMER_VERSION=v1"]).await;
        let v2 = push(&registry, "v2", &["PERFORMER_VERSION=v2"]).await;
        let crash = push(
            &registry,
            "crash",
            &["PERFORMER_VERSION=crash", "PERFORMER_FAIL_INIT=exit"],
        )
        .await;
        let data = tempfile::tempdir().unwrap();
        let store = Store::open_in(data.path()).unwrap();
        let runtime_config = RuntimeConfig {
            allowed_registries: vec![registry.host()],
            insecure_registries: vec![registry.host()],
            ..RuntimeConfig::default()
        };
        std::fs::create_dir_all(data.path().join("runtime")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let runtime = serve(
            runtime_config,
            &data.path().join("runtime"),
            store.clone(),
            listener,
            CancellationToken::new(),
        )
        .await
        .unwrap();
        let lambda = client(&runtime.endpoint());
        let mut config = FactoryConfig::default();
        config.registries.allowed_registries = vec![registry.host()];
        config.registries.insecure_registries = vec![registry.host()];
        config.function.timeout_secs = 30;
        config.function.memory_mb = 256;
        config.retry_interval_ms = Some(20);
        config.retry_max_delay_ms = Some(100);
        config.poll_interval_ms = 50;
        let factory = Factory::new(config.clone(), deps(&store, &lambda, &data)).unwrap();
        Self {
            registry,
            runtime,
            lambda,
            store,
            factory,
            config,
            data,
            v1,
            v2,
            crash,
        }
    }

    pub fn deps(&self) -> FactoryDeps {
        deps(&self.store, &self.lambda, &self.data)
    }

    pub async fn deploy(&self, release: Release) -> ExecutionOutcome {
        self.factory
            .deploy(CHAIN, release, &CancellationToken::new())
            .await
            .unwrap()
    }

    /// The version `live` points at, if any.
    pub async fn live(&self, set: OperatorSet) -> Option<String> {
        self.lambda
            .get_alias()
            .function_name(FunctionName::for_operator_set(&set).as_str())
            .name("live")
            .send()
            .await
            .ok()
            .and_then(|a| a.function_version().map(str::to_string))
    }

    /// Invokes `live` with a task; returns the performer's answer.
    pub async fn invoke_live(&self, set: OperatorSet) -> Value {
        let event = serde_json::json!({
            "avsAddress": AVS, "operatorSetId": set.id, "taskId": "t", "payload": {"operation": "echo"}
        });
        let out = self
            .lambda
            .invoke()
            .function_name(FunctionName::for_operator_set(&set).as_str())
            .qualifier("live")
            .payload(Blob::new(serde_json::to_vec(&event).unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.function_error(), None);
        serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap()
    }

    /// Published versions of the set's function (without $LATEST).
    pub async fn versions(&self, set: OperatorSet) -> Vec<String> {
        let out = self
            .lambda
            .list_versions_by_function()
            .function_name(FunctionName::for_operator_set(&set).as_str())
            .send()
            .await
            .unwrap();
        out.versions()
            .iter()
            .filter_map(|v| v.version())
            .filter(|v| *v != "$LATEST")
            .map(str::to_string)
            .collect()
    }
}

fn deps(store: &Store, lambda: &Client, data: &tempfile::TempDir) -> FactoryDeps {
    FactoryDeps {
        store: store.clone(),
        lambda: lambda.clone(),
        availability: Arc::new(LocalAvailability),
        work_dir: data.path().join("factory"),
    }
}

pub fn failed_detail(outcome: &ExecutionOutcome) -> &str {
    match outcome {
        ExecutionOutcome::Failed { detail, .. } => detail,
        other => panic!("expected a failure, got {other:?}"),
    }
}
