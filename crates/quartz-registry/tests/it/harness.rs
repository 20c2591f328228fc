use std::time::Duration;

use aws_sdk_lambda::types::{FunctionCode, PackageType};
use quartz_lambda_client::LambdaClientConfig;
use quartz_registry::RegistryState;
use quartz_store::Store;
use quartz_testkit::{MOTO_ROLE_ARN, Moto};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-token-0123456789";
pub const AVS: &str = "0x8e14dB002737F89745bc98F987caeB18D0d47635";

/// A registry served on 127.0.0.1:0 in this process, backed by a fresh store and moto.
pub struct Registry {
    pub base: String,
    pub http: Client,
    pub store: Store,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Registry {
    pub async fn start() -> Self {
        Self::start_with(Some(Moto::shared().endpoint()), Some(TOKEN)).await
    }

    pub async fn start_with(lambda_endpoint: Option<String>, token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_in(dir.path()).expect("store opens");
        let config = LambdaClientConfig {
            endpoint: lambda_endpoint,
            region: "us-east-1".into(),
        };
        let lambda = quartz_lambda_client::build_client(&config, Duration::from_secs(5)).await;
        let state = RegistryState::new(store.clone(), lambda, token.map(str::to_string));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        tokio::spawn(quartz_registry::serve(listener, state, shutdown.clone()));
        Self {
            base,
            http: Client::new(),
            store,
            _dir: dir,
            shutdown,
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    pub fn put(&self, path: &str, body: &Value) -> RequestBuilder {
        self.http
            .put(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(body)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.http.delete(format!("{}{path}", self.base)).bearer_auth(TOKEN)
    }
}

/// Sends and returns (status, JSON body); every response of the API must be JSON.
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    let response: Response = request.send().await.expect("request is sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    (status, body)
}

/// Asserts a JSON error with `status` whose message contains every one of `words`.
pub async fn expect_error(request: RequestBuilder, status: u16, words: &[&str]) -> String {
    let (got, body) = send(request).await;
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field in {body}"))
        .to_string();
    assert_eq!(got, status, "{message}");
    for word in words {
        assert!(message.contains(word), "{message:?} does not mention {word:?}");
    }
    message
}

/// Creates a function on moto (the Lambda API) so that the registry's existence check passes.
pub async fn create_function(name: &str) {
    let config = LambdaClientConfig {
        endpoint: Some(Moto::shared().endpoint()),
        region: "us-east-1".into(),
    };
    let lambda = quartz_lambda_client::build_client(&config, Duration::from_secs(10)).await;
    let image = format!(
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/perf@sha256:{}",
        "ab".repeat(32)
    );
    let result = lambda
        .create_function()
        .function_name(name)
        .package_type(PackageType::Image)
        .code(FunctionCode::builder().image_uri(image).build())
        .role(MOTO_ROLE_ARN)
        .send()
        .await;
    if let Err(err) = result {
        let already = err
            .as_service_error()
            .is_some_and(|e| e.is_resource_conflict_exception());
        assert!(
            already,
            "CreateFunction {name} on moto: {}",
            aws_sdk_lambda::error::DisplayErrorContext(err)
        );
    }
}

/// A distinct, valid lowercase AVS address per `n`.
pub fn avs(n: u32) -> String {
    format!("0x{:040x}", 0x1000_0000u64 + u64::from(n))
}
