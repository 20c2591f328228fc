use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

use crate::harness::{Env, json, task};

fn error_of(out: &aws_sdk_lambda::operation::invoke::InvokeOutput) -> (String, String) {
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body = json(out);
    (
        body["errorType"].as_str().unwrap_or_default().to_string(),
        body["errorMessage"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn function_failures_have_lambdas_error_shape() {
    let env = Env::start().await;
    env.create("fails", &env.v1, 1, &[]).await;

    let out = env
        .invoke(
            "fails",
            None,
            &task(json!({"operation": "sleep", "params": {"ms": 5000}})),
        )
        .await;
    let (kind, message) = error_of(&out);
    assert_eq!(kind, "Sandbox.Timedout");
    assert!(message.contains("Task timed out after 1.00 seconds"), "{message}");

    let out = env
        .invoke(
            "fails",
            None,
            &task(json!({"operation": "exit", "params": {"code": 7}})),
        )
        .await;
    let (kind, message) = error_of(&out);
    assert_eq!(kind, "Runtime.ExitError");
    assert!(message.contains("exit status 7"), "{message}");

    let out = env
        .invoke(
            "fails",
            None,
            &task(json!({"operation": "fail", "params": {"message": "nope"}})),
        )
        .await;
    let (_, message) = error_of(&out);
    assert_eq!(message, "nope");

    let out = env
        .invoke(
            "fails",
            None,
            &task(json!({"operation": "huge", "params": {"bytes": 7 * 1024 * 1024}})),
        )
        .await;
    let (kind, _) = error_of(&out);
    assert_eq!(kind, "Function.ResponseSizeTooLarge");

    // After all that, the function still answers (crashed and timed-out instances are replaced).
    let out = env
        .invoke(
            "fails",
            None,
            &task(json!({"operation": "compute", "params": {"a": 1, "b": 2}})),
        )
        .await;
    assert_eq!(out.function_error(), None, "{}", json(&out));
    assert_eq!(json(&out)["result"]["sum"], 3.0);
}

#[tokio::test]
async fn init_failures_return_the_functions_init_error() {
    let env = Env::start().await;
    env.create("init-report", &env.v1, 3, &[("PERFORMER_FAIL_INIT", "report")])
        .await;
    let out = env.invoke("init-report", None, &task(json!({}))).await;
    let (kind, message) = error_of(&out);
    assert_eq!(kind, "Performer.InitFailed");
    assert!(message.contains("init failed on purpose"), "{message}");

    env.create("init-exit", &env.v1, 3, &[("PERFORMER_FAIL_INIT", "exit")])
        .await;
    let out = env.invoke("init-exit", None, &task(json!({}))).await;
    let (kind, message) = error_of(&out);
    assert_eq!(kind, "Runtime.ExitError");
    assert!(message.contains("exit status 3"), "{message}");
}

#[tokio::test]
async fn api_errors_use_lambdas_types() {
    let env = Env::start().await;
    env.create("api", &env.v1, 3, &[]).await;

    let big = format!("{{\"payload\":\"{}\"}}", "x".repeat(7 * 1024 * 1024));
    let err = env
        .client
        .invoke()
        .function_name("api")
        .payload(Blob::new(big))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("RequestTooLargeException"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(413));

    let err = env.client.invoke().function_name("missing").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert!(
        err.message().unwrap_or_default().contains("function:missing"),
        "{err:?}"
    );

    let err = env
        .client
        .invoke()
        .function_name("api")
        .qualifier("nosuchalias")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let err = env
        .client
        .invoke()
        .function_name("api")
        .qualifier("7")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let err = env
        .client
        .invoke()
        .function_name("api")
        .qualifier("bad!qualifier")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));

    let err = env
        .client
        .invoke()
        .function_name("api")
        .payload(Blob::new("not json"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequestContentException"));

    let code = aws_sdk_lambda::types::FunctionCode::builder()
        .image_uri(&env.v1)
        .build();
    let err = env
        .client
        .create_function()
        .function_name("t")
        .code(code.clone())
        .timeout(901)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    let err = env
        .client
        .create_function()
        .function_name("m")
        .code(code.clone())
        .memory_size(64)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    let err = env
        .client
        .create_function()
        .function_name("x".repeat(65))
        .code(code.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    let tagged = aws_sdk_lambda::types::FunctionCode::builder()
        .image_uri(format!("{}/performer:v1", env.registry.host()))
        .build();
    let err = env
        .client
        .create_function()
        .function_name("tag")
        .code(tagged)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    assert!(err.message().unwrap_or_default().contains("digest"), "{err:?}");

    let event = env
        .client
        .invoke()
        .function_name("api")
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(Blob::new(serde_json::to_vec(&task(Value::Null)).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status_code(), 202);
}

/// A registry that accepts connections and never answers keeps an update InProgress, so the
/// conflict is deterministic.
#[tokio::test]
async fn mutations_during_an_update_conflict() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_host = silent.local_addr().unwrap().to_string();
    let env = Env::start_with(|c| {
        c.allowed_registries.push(silent_host.clone());
        c.insecure_registries.push(silent_host.clone());
    })
    .await;
    env.create("busy", &env.v1, 3, &[]).await;
    let hanging = format!("{silent_host}/performer@sha256:{}", "ab".repeat(32));
    let updated = env
        .client
        .update_function_code()
        .function_name("busy")
        .image_uri(&hanging)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.last_update_status().map(|s| s.as_str()), Some("InProgress"));
    let err = env
        .client
        .update_function_configuration()
        .function_name("busy")
        .timeout(5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceConflictException"));
    let err = env
        .client
        .publish_version()
        .function_name("busy")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceConflictException"));
    let err = env
        .client
        .update_function_code()
        .function_name("busy")
        .image_uri(&env.v2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceConflictException"));
    drop(silent);
}
