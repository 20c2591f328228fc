use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput as FunctionConfiguration;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, LastUpdateStatus, State};
use quartz_runtime::{RuntimeConfig, RuntimeHandle, serve};
use quartz_testkit::{OciRegistry, performer_binary};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A registry holding two builds of the example performer (`PERFORMER_VERSION` v1 and v2), and
/// a runtime allowed to pull from it.
pub struct Env {
    pub registry: OciRegistry,
    pub runtime: Option<RuntimeHandle>,
    pub client: Client,
    pub data: tempfile::TempDir,
    pub v1: String,
    pub v2: String,
}

pub fn config_for(registry: &OciRegistry) -> RuntimeConfig {
    RuntimeConfig {
        allowed_registries: vec![registry.host()],
        insecure_registries: vec![registry.host()],
        ..RuntimeConfig::default()
    }
}

pub async fn push_performer(registry: &OciRegistry, tag: &str, version: &str) -> String {
    let binary = std::fs::read(performer_binary()).unwrap();
    let image = quartz_oci::binary_image(&binary, &[format!("PERFORMER_VERSION={version}")]).unwrap();
    quartz_oci::push(&image, &format!("{}/performer:{tag}", registry.host()), true)
        .await
        .unwrap()
        .to_string()
}

pub fn client(endpoint: &str) -> Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(endpoint)
        // Tests look at each answer, 429s included.
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

pub async fn start_runtime(config: RuntimeConfig, data: &std::path::Path) -> RuntimeHandle {
    let store = quartz_store::Store::open_in(data).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(config, data, store, listener, CancellationToken::new())
        .await
        .unwrap()
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut RuntimeConfig)) -> Self {
        let registry = OciRegistry::start();
        let v1 = push_performer(&registry, "v1", "v1").await;
        let v2 = push_performer(&registry, "v2", "v2").await;
        let data = tempfile::tempdir().unwrap();
        let mut config = config_for(&registry);
        adjust(&mut config);
        let runtime = start_runtime(config, data.path()).await;
        let client = client(&runtime.endpoint());
        Self {
            registry,
            runtime: Some(runtime),
            client,
            data,
            v1,
            v2,
        }
    }

    /// Creates a function with the test hooks enabled and waits until it is Active.
    pub async fn create(&self, name: &str, image: &str, timeout: i32, env: &[(&str, &str)]) -> FunctionConfiguration {
        let mut environment = Environment::builder().variables("PERFORMER_TEST_HOOKS", "1");
        for (k, v) in env {
            environment = environment.variables(*k, *v);
        }
        self.client
            .create_function()
            .function_name(name)
            .role("arn:aws:iam::000000000000:role/test")
            .package_type(aws_sdk_lambda::types::PackageType::Image)
            .code(aws_sdk_lambda::types::FunctionCode::builder().image_uri(image).build())
            .timeout(timeout)
            .memory_size(256)
            .environment(environment.build())
            .send()
            .await
            .unwrap();
        let config = self.settled(name).await;
        assert_eq!(config.state(), Some(&State::Active), "{config:?}");
        config
    }

    /// Polls until neither creation nor an update is in progress.
    pub async fn settled(&self, name: &str) -> FunctionConfiguration {
        for _ in 0..600 {
            let config = self
                .client
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .unwrap();
            let pending = config.state() == Some(&State::Pending)
                || config.last_update_status() == Some(&LastUpdateStatus::InProgress);
            if !pending {
                return config;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} still in progress after 60 s");
    }

    /// Invokes synchronously; returns the SDK output.
    pub async fn invoke(
        &self,
        name: &str,
        qualifier: Option<&str>,
        event: &Value,
    ) -> aws_sdk_lambda::operation::invoke::InvokeOutput {
        self.client
            .invoke()
            .function_name(name)
            .set_qualifier(qualifier.map(str::to_string))
            .payload(Blob::new(serde_json::to_vec(event).unwrap()))
            .send()
            .await
            .unwrap()
    }
}

pub fn task(payload: Value) -> Value {
    serde_json::json!({
        "avsAddress": "0x8e14db002737f89745bc98f987caeb18d0d47635",
        "operatorSetId": 0,
        "taskId": "task-1",
        "payload": payload,
    })
}

pub fn json(output: &aws_sdk_lambda::operation::invoke::InvokeOutput) -> Value {
    serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap()
}
