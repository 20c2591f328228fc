use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::{FunctionCode, LogType, State};
use base64::Engine;
use quartz_oci::{LayerBuilder, build_image, push};
use serde_json::json;

use crate::harness::{Env, json, task};

#[tokio::test]
async fn a_function_cannot_see_the_data_dir_or_the_runtimes_environment() {
    let env = Env::start().await;
    env.create("probe", &env.v1, 5, &[]).await;
    let secret = env.data.path().join("secret.txt");
    std::fs::write(&secret, b"runtime secret").unwrap();
    let store = env.data.path().join("quartz.db");
    // Variables the runtime (this test process) has: cargo sets them for every test binary.
    let host_vars = ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"];
    for var in host_vars {
        assert!(
            std::env::var(var).is_ok(),
            "{var} must be set in the runtime for this test to mean anything"
        );
    }
    let out = env
        .invoke(
            "probe",
            None,
            &task(json!({"operation": "probe", "params": {
                "paths": [secret.to_str().unwrap(), store.to_str().unwrap(), "/var/runtime/bootstrap"],
                "writePaths": ["/tmp/scratch", "/var/task/planted", "/planted"],
                "env": ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_LAMBDA_RUNTIME_API"],
            }})),
        )
        .await;
    let result = &json(&out)["result"];
    assert_eq!(result["readable"][secret.to_str().unwrap()], false, "{result}");
    assert_eq!(result["readable"][store.to_str().unwrap()], false, "{result}");
    assert_eq!(
        result["readable"]["/var/runtime/bootstrap"], true,
        "the image itself is visible"
    );
    assert_eq!(result["writable"]["/tmp/scratch"], true, "{result}");
    assert_eq!(
        result["writable"]["/var/task/planted"], false,
        "the rootfs is read-only"
    );
    assert_eq!(result["writable"]["/planted"], false);
    for var in host_vars {
        assert!(result["env"][var].is_null(), "{var} leaked: {result}");
    }
    assert_eq!(result["env"]["AWS_LAMBDA_FUNCTION_NAME"], "probe");
    assert_eq!(result["env"]["LAMBDA_TASK_ROOT"], "/var/task");
    assert!(
        result["env"]["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(result["cwd"], "/var/task");
}

#[tokio::test]
async fn refused_images_never_become_active() {
    let env = Env::start().await;

    // A layer with a `..` entry.
    let mut layer = LayerBuilder::new();
    layer.raw_file("../../escape", b"owned").unwrap();
    let evil = build_image(
        vec![layer.finish().unwrap()],
        quartz_oci::ContainerConfig {
            entrypoint: Some(vec!["/x".into()]),
            ..Default::default()
        },
    )
    .unwrap();
    let evil = push(&evil, &format!("{}/evil:1", env.registry.host()), true)
        .await
        .unwrap()
        .to_string();
    env.client
        .create_function()
        .function_name("evil")
        .code(FunctionCode::builder().image_uri(&evil).build())
        .send()
        .await
        .unwrap();
    let config = env.settled("evil").await;
    assert_eq!(config.state(), Some(&State::Failed));
    assert!(config.state_reason().unwrap_or_default().contains(".."), "{config:?}");
    let err = env.client.invoke().function_name("evil").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceConflictException"));

    // Content that does not match its digest: the registry now serves other bytes for the layer.
    let binary = std::fs::read(quartz_testkit::performer_binary()).unwrap();
    let image = quartz_oci::binary_image(&binary, &["PERFORMER_VERSION=tampered".into()]).unwrap();
    let pinned = push(&image, &format!("{}/tampered:1", env.registry.host()), true)
        .await
        .unwrap();
    let config_hex = quartz_oci::blobs::sha256(&image.config).hex();
    std::fs::write(env.registry.blob_path(&config_hex), b"{\"tampered\":true}").unwrap();
    env.client
        .create_function()
        .function_name("tampered")
        .code(FunctionCode::builder().image_uri(pinned.to_string()).build())
        .send()
        .await
        .unwrap();
    let config = env.settled("tampered").await;
    assert_eq!(config.state(), Some(&State::Failed));
    assert!(
        config.state_reason().unwrap_or_default().contains("does not match"),
        "{config:?}"
    );
}

#[tokio::test]
async fn a_private_registry_that_is_not_allowed_is_refused() {
    let env = Env::start_with(|c| c.allowed_registries.clear()).await;
    let err = env
        .client
        .create_function()
        .function_name("private")
        .code(FunctionCode::builder().image_uri(&env.v1).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    assert!(
        err.message().unwrap_or_default().contains("allowed_registries"),
        "{err:?}"
    );
}

#[tokio::test]
async fn logs_have_start_end_report_lines_and_tail() {
    let env = Env::start().await;
    env.create("logged", &env.v1, 5, &[]).await;
    let out = env
        .client
        .invoke()
        .function_name("logged")
        .log_type(LogType::Tail)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            serde_json::to_vec(&task(json!({"operation": "echo"}))).unwrap(),
        ))
        .send()
        .await
        .unwrap();
    let tail = base64::engine::general_purpose::STANDARD
        .decode(out.log_result().unwrap())
        .unwrap();
    let tail = String::from_utf8(tail).unwrap();
    for needle in [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "Billed Duration:",
        "Init Duration:",
    ] {
        assert!(tail.contains(needle), "{needle} missing from {tail}");
    }
    let mut copied = Vec::new();
    quartz_runtime::copy_logs(env.data.path(), "logged", false, &mut copied, Default::default())
        .await
        .unwrap();
    let copied = String::from_utf8(copied).unwrap();
    assert!(
        copied.contains("START RequestId:") && copied.contains("REPORT RequestId:"),
        "{copied}"
    );
    // END and REPORT are written together; each is still its own timestamped line, in order.
    for line in copied.lines() {
        let (stamp, _) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("no timestamp in {line:?}"));
        assert!(stamp.len() == 24 && stamp.ends_with('Z'), "bad timestamp in {line:?}");
    }
    let end = copied.find("\tEND RequestId:").expect("END line");
    let report = copied.find("\tREPORT RequestId:").expect("REPORT line");
    assert!(end < report, "{copied}");
}

#[tokio::test]
async fn the_runtime_refuses_to_start_without_bubblewrap() {
    let data = tempfile::tempdir().unwrap();
    let store = quartz_store::Store::open_in(data.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = quartz_runtime::RuntimeConfig {
        bwrap: "/nonexistent/bwrap".into(),
        ..Default::default()
    };
    let result = quartz_runtime::serve(config, data.path(), store, listener, Default::default()).await;
    let err = result.err().expect("refused").to_string();
    assert!(err.contains("--unsandboxed"), "{err}");
}
