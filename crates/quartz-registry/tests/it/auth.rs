use serde_json::json;

use crate::harness::{AVS, Registry, create_function, expect_error, send};

#[tokio::test(flavor = "multi_thread")]
async fn writes_need_the_token_and_refused_writes_change_nothing() {
    let registry = Registry::start().await;
    create_function("quartz-test-auth").await;
    let path = format!("/performers/{AVS}/7");
    let url = format!("{}{path}", registry.base);
    let body = json!({"functionName": "quartz-test-auth"});

    // No token: 401 with a Bearer challenge, before the body is even looked at.
    let response = registry.http.put(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    expect_error(
        registry.http.put(&url).body("not json"),
        401,
        &["Authorization: Bearer"],
    )
    .await;
    // Wrong token, or another scheme: refused.
    expect_error(
        registry.http.put(&url).bearer_auth("wrong").json(&body),
        403,
        &["token"],
    )
    .await;
    expect_error(registry.http.put(&url).basic_auth("a", Some("b")).json(&body), 401, &[]).await;
    expect_error(registry.get(&path), 404, &[]).await;

    let (status, _) = send(registry.put(&path, &body)).await;
    assert_eq!(status, 201);
    expect_error(registry.http.delete(&url), 401, &[]).await;
    expect_error(registry.http.delete(&url).bearer_auth("wrong"), 403, &[]).await;
    // Reads need no token.
    let (status, got) = send(registry.http.get(&url)).await;
    assert_eq!((status, got["revision"].as_u64()), (200, Some(1)));
    let (status, _) = send(registry.delete(&path)).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_configured_token_writes_are_open() {
    let registry = Registry::start_with(Some(quartz_testkit::Moto::shared().endpoint()), None).await;
    create_function("quartz-test-open").await;
    let url = format!("{}/performers/{AVS}/8", registry.base);
    let (status, _) = send(
        registry
            .http
            .put(&url)
            .json(&json!({"functionName": "quartz-test-open"})),
    )
    .await;
    assert_eq!(status, 201);
}
