use aws_sdk_lambda::error::ProvideErrorMetadata;
use serde_json::json;

use crate::harness::{Env, json, task};

#[tokio::test]
async fn versions_and_aliases_keep_old_code_running_while_live_moves() {
    let env = Env::start().await;
    let created = env.create("perf", &env.v1, 10, &[]).await;
    assert_eq!(created.version(), Some("$LATEST"));
    assert_eq!(created.code_sha256(), Some(env.v1.split("sha256:").nth(1).unwrap()));

    let out = env
        .invoke(
            "perf",
            None,
            &task(json!({"operation": "compute", "params": {"a": 6, "b": 7}})),
        )
        .await;
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.executed_version(), Some("$LATEST"));
    assert_eq!(out.function_error(), None);
    let body = json(&out);
    assert_eq!(body["result"], json!({"sum": 13.0, "product": 42.0}));
    assert_eq!(body["version"], "v1");

    let v1 = env.client.publish_version().function_name("perf").send().await.unwrap();
    assert_eq!(v1.version(), Some("1"));
    env.client
        .create_alias()
        .function_name("perf")
        .name("live")
        .function_version("1")
        .send()
        .await
        .unwrap();

    env.client
        .update_function_code()
        .function_name("perf")
        .image_uri(&env.v2)
        .send()
        .await
        .unwrap();
    let updated = env.settled("perf").await;
    assert_eq!(updated.last_update_status().map(|s| s.as_str()), Some("Successful"));
    let sha = updated.code_sha256().unwrap().to_string();

    // A stale CodeSha256 precondition is refused; the current one publishes version 2.
    let stale = env
        .client
        .publish_version()
        .function_name("perf")
        .code_sha256("00".repeat(32))
        .send()
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Some("InvalidParameterValueException"));
    let v2 = env
        .client
        .publish_version()
        .function_name("perf")
        .code_sha256(&sha)
        .send()
        .await
        .unwrap();
    assert_eq!(v2.version(), Some("2"));
    // Publishing unchanged code returns the existing version.
    let again = env.client.publish_version().function_name("perf").send().await.unwrap();
    assert_eq!(again.version(), Some("2"));
    // Also when the publish carries a description of its own (a retried publish must not mint
    // a new version for the same code).
    for description in ["release 2", "release 2, retried"] {
        let again = env
            .client
            .publish_version()
            .function_name("perf")
            .description(description)
            .send()
            .await
            .unwrap();
        assert_eq!(again.version(), Some("2"));
    }

    let alias = env
        .client
        .get_alias()
        .function_name("perf")
        .name("live")
        .send()
        .await
        .unwrap();
    let wrong_revision = env
        .client
        .update_alias()
        .function_name("perf")
        .name("live")
        .function_version("2")
        .revision_id("not-the-revision")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong_revision.code(), Some("PreconditionFailedException"));
    env.client
        .update_alias()
        .function_name("perf")
        .name("live")
        .function_version("2")
        .revision_id(alias.revision_id().unwrap())
        .send()
        .await
        .unwrap();

    let live = env
        .invoke("perf", Some("live"), &task(json!({"operation": "echo"})))
        .await;
    assert_eq!(live.executed_version(), Some("2"));
    assert_eq!(json(&live)["version"], "v2");
    let old = env.invoke("perf", Some("1"), &task(json!({"operation": "echo"}))).await;
    assert_eq!(old.executed_version(), Some("1"));
    assert_eq!(json(&old)["version"], "v1", "version 1 still runs the first image");

    let versions = env
        .client
        .list_versions_by_function()
        .function_name("perf")
        .send()
        .await
        .unwrap();
    let listed: Vec<_> = versions.versions().iter().filter_map(|v| v.version()).collect();
    assert_eq!(listed, ["$LATEST", "1", "2"]);
}

#[tokio::test]
async fn operations_of_the_example_performer() {
    let env = Env::start().await;
    env.create("ops", &env.v1, 10, &[]).await;
    let out = env
        .invoke(
            "ops",
            None,
            &task(json!({"operation": "transform", "params": {"text": "abc"}})),
        )
        .await;
    assert_eq!(
        json(&out)["result"],
        json!({"uppercase": "ABC", "length": 3, "reversed": "cba"})
    );
    let out = env
        .invoke("ops", None, &task(json!({"operation": "something", "x": 1})))
        .await;
    assert_eq!(json(&out)["result"]["echo"], json!({"operation": "something", "x": 1}));
    let raw =
        serde_json::json!({"avsAddress": "0x00", "taskId": "t", "payload": "AAECAwT/", "payloadEncoding": "base64"});
    let out = env.invoke("ops", None, &raw).await;
    assert_eq!(json(&out), json!({"resultBase64": "AAECAwT/"}));
    let out = env.invoke("ops", None, &json!({"type": "quartz.healthcheck"})).await;
    assert_eq!(json(&out)["status"], "ok");
    // Warm reuse: the second call is served by the same instance as the first.
    let a = json(&env.invoke("ops", None, &task(json!({}))).await)["instanceId"].clone();
    let b = json(&env.invoke("ops", None, &task(json!({}))).await)["instanceId"].clone();
    assert_eq!(a, b);
}

#[tokio::test]
async fn list_functions_pages_with_marker_and_delete_removes() {
    let env = Env::start().await;
    for name in ["fa", "fb", "fc"] {
        env.create(name, &env.v1, 3, &[]).await;
    }
    let first = env.client.list_functions().max_items(2).send().await.unwrap();
    let names: Vec<_> = first.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["fa", "fb"]);
    let marker = first.next_marker().unwrap();
    let second = env
        .client
        .list_functions()
        .max_items(2)
        .marker(marker)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = second.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["fc"]);
    assert_eq!(second.next_marker(), None);

    env.client.delete_function().function_name("fb").send().await.unwrap();
    let err = env.client.get_function().function_name("fb").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let dup = env
        .client
        .create_function()
        .function_name("fa")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri(&env.v1)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Some("ResourceConflictException"));
}

#[tokio::test]
async fn definitions_survive_a_restart() {
    let mut env = Env::start().await;
    env.create("keep", &env.v1, 5, &[]).await;
    env.client.publish_version().function_name("keep").send().await.unwrap();
    env.client
        .create_alias()
        .function_name("keep")
        .name("live")
        .function_version("1")
        .send()
        .await
        .unwrap();
    env.runtime.take().unwrap().shutdown().await.unwrap();

    let runtime = crate::harness::start_runtime(crate::harness::config_for(&env.registry), env.data.path()).await;
    env.client = crate::harness::client(&runtime.endpoint());
    let out = env
        .invoke("keep", Some("live"), &task(json!({"operation": "echo"})))
        .await;
    assert_eq!(out.executed_version(), Some("1"));
    assert_eq!(json(&out)["version"], "v1");
}
