//! A local runtime with the example performer, adapters started in-process on `127.0.0.1:0`,
//! and an independent gRPC client (Python grpcio, stubs compiled by grpcio-tools).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::types::{Environment, FunctionCode, LastUpdateStatus, PackageType, State};
use quartz_adapter::{AdapterConfig, AdapterDeps, AdapterError};
use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome};
use quartz_core::{FunctionName, OperatorSet};
use quartz_lambda_client::LambdaClientConfig;
use quartz_runtime::{RuntimeConfig, RuntimeHandle};
use quartz_store::{Store, WriteCondition};
use quartz_testkit::{OciRegistry, performer_binary};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const AVS_A: &str = "0x8e14db002737f89745bc98f987caeb18d0d47635";
pub const AVS_B: &str = "0x00000000000000000000000000000000000000b0";
pub const AVS_C: &str = "0x00000000000000000000000000000000000000c0";

pub fn set(avs: &str, id: u32) -> OperatorSet {
    OperatorSet::new(avs.parse().unwrap(), id)
}

/// An OCI registry with the example performer, a local runtime pulling from it, and the store
/// the runtime and the registry share.
pub struct Env {
    pub _registry: OciRegistry,
    pub runtime: Option<RuntimeHandle>,
    pub client: Client,
    pub store: Store,
    pub _data: tempfile::TempDir,
    pub image: String,
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut RuntimeConfig)) -> Self {
        let registry = OciRegistry::start();
        let binary = std::fs::read(performer_binary()).unwrap();
        let image = quartz_oci::binary_image(&binary, &["PERFORMER_VERSION=v1".to_string()]).unwrap();
        let image = quartz_oci::push(&image, &format!("{}/performer:v1", registry.host()), true)
            .await
            .unwrap()
            .to_string();
        let data = tempfile::tempdir().unwrap();
        let mut config = RuntimeConfig {
            allowed_registries: vec![registry.host()],
            insecure_registries: vec![registry.host()],
            ..RuntimeConfig::default()
        };
        adjust(&mut config);
        let store = Store::open_in(data.path()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let runtime = quartz_runtime::serve(config, data.path(), store.clone(), listener, CancellationToken::new())
            .await
            .unwrap();
        let client = Client::from_conf(
            aws_sdk_lambda::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("local", "local", None, None, "test"))
                .endpoint_url(runtime.endpoint())
                .build(),
        );
        Self {
            _registry: registry,
            runtime: Some(runtime),
            client,
            store,
            _data: data,
            image,
        }
    }

    pub fn endpoint(&self) -> String {
        self.runtime.as_ref().unwrap().endpoint()
    }

    /// Deploys the performer for `set` as the factory would: create (test hooks on), wait until
    /// Active, publish a version, point `live` at it.
    pub async fn deploy(&self, set: OperatorSet, timeout_secs: i32) -> FunctionName {
        let name = FunctionName::for_operator_set(&set);
        self.client
            .create_function()
            .function_name(name.as_str())
            .role("arn:aws:iam::000000000000:role/test")
            .package_type(PackageType::Image)
            .code(FunctionCode::builder().image_uri(&self.image).build())
            .timeout(timeout_secs)
            .memory_size(256)
            .environment(Environment::builder().variables("PERFORMER_TEST_HOOKS", "1").build())
            .send()
            .await
            .unwrap();
        for _ in 0..600 {
            let config = self
                .client
                .get_function_configuration()
                .function_name(name.as_str())
                .send()
                .await
                .unwrap();
            let pending = config.state() == Some(&State::Pending)
                || config.last_update_status() == Some(&LastUpdateStatus::InProgress);
            if !pending {
                assert_eq!(config.state(), Some(&State::Active), "{config:?}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let version = self
            .client
            .publish_version()
            .function_name(name.as_str())
            .send()
            .await
            .unwrap();
        self.client
            .create_alias()
            .function_name(name.as_str())
            .name("live")
            .function_version(version.version().unwrap())
            .send()
            .await
            .unwrap();
        name
    }

    /// Registers `set` → `function` as the factory's last step would.
    pub async fn register(&self, set: OperatorSet, function: &FunctionName, status: PerformerStatus) {
        let update = PerformerUpdate {
            function_name: function.clone(),
            function_arn: None,
            release_id: Some(1),
            function_version: Some("1".into()),
            image_uri: None,
            artifact_digest: None,
            status,
        };
        self.store
            .put_performer(set, update, WriteCondition::None, ReleaseOutcome::Registered)
            .await
            .unwrap();
    }

    pub fn lambda_config(&self) -> LambdaClientConfig {
        LambdaClientConfig {
            endpoint: Some(self.endpoint()),
            region: "us-east-1".into(),
        }
    }

    /// An adapter serving one operator set, invoking through the AWS SDK.
    pub async fn single(&self, set: OperatorSet) -> Adapter {
        Adapter::start(self.single_config(set), AdapterDeps::default()).await
    }

    /// An adapter serving one operator set, invoking the local runtime over plain HTTP (as in
    /// `quartz up`).
    pub async fn single_local(&self, set: OperatorSet) -> Adapter {
        let config = AdapterConfig {
            local_runtime: Some(self.endpoint()),
            ..self.single_config(set)
        };
        Adapter::start(config, AdapterDeps::default()).await
    }

    /// An adapter serving one operator set, invoking the runtime of this process directly (as
    /// `quartz up` does).
    pub async fn single_in_process(&self, set: OperatorSet) -> Adapter {
        let deps = AdapterDeps {
            local_runtime: Some(self.runtime.as_ref().unwrap().local_invoker()),
            ..AdapterDeps::default()
        };
        Adapter::start(self.single_config(set), deps).await
    }

    fn single_config(&self, set: OperatorSet) -> AdapterConfig {
        AdapterConfig {
            avs_address: Some(set.avs.to_string()),
            operator_set_id: Some(set.id.to_string()),
            lambda: self.lambda_config(),
            function_timeout_secs: 30,
            health_cache_ms: 0,
            ..AdapterConfig::default()
        }
    }

    /// An adapter routing through the registry.
    pub async fn multi(&self) -> Adapter {
        let config = AdapterConfig {
            lambda: self.lambda_config(),
            function_timeout_secs: 30,
            health_cache_ms: 0,
            registry_refresh_ms: 500,
            ..AdapterConfig::default()
        };
        let deps = AdapterDeps {
            store: Some(self.store.clone()),
            lambda: None,
            local_runtime: None,
        };
        Adapter::start(config, deps).await
    }
}

/// An adapter served in-process.
pub struct Adapter {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), AdapterError>>,
    pub http: reqwest::Client,
}

impl Adapter {
    pub async fn start(config: AdapterConfig, deps: AdapterDeps) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(quartz_adapter::serve(config, deps, listener, shutdown.clone()));
        Self {
            addr,
            shutdown,
            task,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// POST /perform with a raw body; returns the status and the JSON answer.
    pub async fn perform_raw(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/perform"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, value)
    }

    pub async fn perform(&self, body: &Value) -> (u16, Value) {
        self.perform_raw(serde_json::to_vec(body).unwrap()).await
    }

    /// A gRPC call through the Python client; see `tests/grpc_client.py` for `request`.
    pub async fn grpc(&self, request: Value) -> Value {
        grpc_call(&self.addr.to_string(), request).await
    }
}

pub fn perform_body(avs: &str, payload: Value) -> Value {
    json!({"avsAddress": avs, "taskId": "task-1", "payload": payload})
}

fn crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The protos compiled by grpcio-tools into a temp dir, once per test binary.
fn stubs() -> &'static Path {
    static STUBS: OnceLock<tempfile::TempDir> = OnceLock::new();
    STUBS
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let proto = crate_dir().join("proto");
            let status = std::process::Command::new("python3")
                .args(["-m", "grpc_tools.protoc"])
                .arg(format!("-I{}", proto.display()))
                .arg(format!("--python_out={}", dir.path().display()))
                .arg(format!("--grpc_python_out={}", dir.path().display()))
                .arg(proto.join("performer.proto"))
                .arg(proto.join("health.proto"))
                .status()
                .expect("python3 with grpcio-tools (scripts/setup.sh)");
            assert!(status.success(), "grpc_tools.protoc failed; run scripts/setup.sh");
            dir
        })
        .path()
}

pub async fn grpc_call(addr: &str, request: Value) -> Value {
    let mut child = tokio::process::Command::new("python3")
        .arg(crate_dir().join("tests/grpc_client.py"))
        .arg(stubs())
        .arg(addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&serde_json::to_vec(&request).unwrap()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "grpc client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(value: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().unwrap())
        .unwrap()
}
