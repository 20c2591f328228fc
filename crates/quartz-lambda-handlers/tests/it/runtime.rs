//! The real `quartz-lambda-handlers` binary as a `provided`-style function on Quartz's own
//! local runtime: it speaks the Lambda Runtime API through `lambda_runtime`, and aws-sdk-lambda
//! invokes it with API Gateway proxy events, the registry in DynamoDB on moto.
//!
//! The runtime runs it unsandboxed: the test binary is the workspace's ordinary (dynamically
//! linked) build, which needs the host's libc. `quartz deploy` builds the static one for AWS.

use std::time::Duration;

use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, LastUpdateStatus, PackageType, State};
use quartz_aws::{DynamoRegistry, RegistryTables};
use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome};
use quartz_core::{AvsAddress, FunctionName, OperatorSet};
use quartz_runtime::RuntimeConfig;
use quartz_store::WriteCondition;
use quartz_testkit::{Moto, OciRegistry};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::registry_api::proxy_event;
use crate::sdk;
use quartz_testkit::unique_name;

const AVS: &str = "0x00000000000000000000000000000000000000c3";
const FUNCTION: &str = "quartz-registry-api";

/// The built binary without its debug info (about a tenth of the size), as an image.
async fn push_handlers(registry: &OciRegistry, dir: &std::path::Path) -> String {
    let built = env!("CARGO_BIN_EXE_quartz-lambda-handlers");
    let stripped = dir.join("bootstrap");
    let status = std::process::Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(built)
        .status();
    let path = if status.is_ok_and(|s| s.success()) {
        stripped
    } else {
        built.into()
    };
    let binary = std::fs::read(path).unwrap();
    let image = quartz_oci::binary_image(&binary, &[]).unwrap();
    quartz_oci::push(
        &image,
        &format!("{}/quartz-lambda-handlers:test", registry.host()),
        true,
    )
    .await
    .unwrap()
    .to_string()
}

fn client(endpoint: &str) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

async fn invoke(client: &aws_sdk_lambda::Client, event: &Value) -> (Option<String>, Value) {
    let output = client
        .invoke()
        .function_name(FUNCTION)
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .unwrap();
    let payload = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    (output.function_error().map(str::to_string), payload)
}

#[tokio::test]
async fn the_built_binary_answers_proxy_events_through_the_runtime_api() {
    let moto = Moto::shared();
    let sdk = sdk(moto).await;
    let tables = RegistryTables {
        performers: unique_name("bin-performers"),
        history: unique_name("bin-history"),
    };
    let dynamo = DynamoRegistry::new(&sdk, tables.clone());
    dynamo.create_tables().await.unwrap();
    let set = OperatorSet::new(AVS.parse::<AvsAddress>().unwrap(), 9);
    let update = PerformerUpdate {
        function_name: FunctionName::for_operator_set(&set),
        function_arn: None,
        release_id: Some(12),
        function_version: Some("12".into()),
        image_uri: None,
        artifact_digest: None,
        status: PerformerStatus::Active,
    };
    dynamo
        .put_performer(set, update, WriteCondition::None, ReleaseOutcome::Registered)
        .await
        .unwrap();

    let registry = OciRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = push_handlers(&registry, dir.path()).await;
    let data = dir.path().join("runtime");
    std::fs::create_dir_all(&data).unwrap();
    let config = RuntimeConfig {
        allowed_registries: vec![registry.host()],
        insecure_registries: vec![registry.host()],
        unsandboxed: true,
        ..RuntimeConfig::default()
    };
    let store = quartz_store::Store::open_in(&data).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime = quartz_runtime::serve(config, &data, store, listener, CancellationToken::new())
        .await
        .unwrap();
    let lambda = client(&runtime.endpoint());
    let tmp = dir.path().join("function-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // What the template gives the function, plus moto's endpoint and a private TMPDIR.
    let environment = Environment::builder()
        .variables("QUARTZ_HANDLER", "registry-api")
        .variables("REGISTRY_TABLE", &tables.performers)
        .variables("HISTORY_TABLE", &tables.history)
        .variables("AWS_ENDPOINT_URL", moto.endpoint())
        .variables("TMPDIR", tmp.display().to_string())
        .build();
    lambda
        .create_function()
        .function_name(FUNCTION)
        .role("arn:aws:iam::000000000000:role/quartz-registry-api")
        .package_type(PackageType::Image)
        .code(FunctionCode::builder().image_uri(&image).build())
        .timeout(30)
        .memory_size(256)
        .environment(environment)
        .send()
        .await
        .unwrap();
    for _ in 0..600 {
        let config = lambda
            .get_function_configuration()
            .function_name(FUNCTION)
            .send()
            .await
            .unwrap();
        if config.state() != Some(&State::Pending) && config.last_update_status() != Some(&LastUpdateStatus::InProgress)
        {
            assert_eq!(config.state(), Some(&State::Active), "{config:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (error, response) = invoke(
        &lambda,
        &proxy_event("GET", &format!("/performers/{AVS}/9"), None, None),
    )
    .await;
    assert_eq!(error, None, "{response}");
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["releaseId"], 12);
    assert_eq!(body["functionName"], FunctionName::for_operator_set(&set).as_str());

    // The same warm instance again, with a query string.
    let (error, response) = invoke(
        &lambda,
        &proxy_event("GET", "/performers", Some(json!({"avs": AVS})), None),
    )
    .await;
    assert_eq!(error, None, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["count"], 1);

    // Not a proxy event: a function error with the handler's own type, through lambda_runtime.
    let (error, response) = invoke(&lambda, &json!({"source": "aws.events"})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(response["errorType"], "Quartz.InvalidInput", "{response}");
    assert!(
        response["errorMessage"].as_str().unwrap().contains("proxy event"),
        "{response}"
    );
    // Stops the function's process too: no orphan.
    runtime.shutdown().await.unwrap();
}
