use serde_json::json;

use crate::harness::{AVS, Registry, create_function, expect_error, send};

const DIGEST: &str = "sha256:1f3770694bb5bf52025c03d3ac4fefc34da07711fd515d2635d52639ba73794e";

#[tokio::test(flavor = "multi_thread")]
async fn crud_round_trip_with_mixed_case_addresses() {
    let registry = Registry::start().await;
    let function = "avs-0x8e14db002737f89745bc98f987caeb18d0d47635-opset-3-performer";
    create_function(function).await;

    // Create with the EIP-55 checksum form; the default function name follows the naming rule.
    let image = format!("127.0.0.1:5000/perf@{DIGEST}");
    let (status, created) = send(registry.put(
        &format!("/performers/{AVS}/3"),
        &json!({"releaseId": 1, "functionVersion": "1", "imageUri": image}),
    ))
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["message"], "Performer registered");
    let performer = &created["performer"];
    assert_eq!(performer["avsAddress"], AVS.to_lowercase());
    assert_eq!(performer["operatorSetId"], 3);
    assert_eq!(performer["functionName"], function);
    assert_eq!(performer["artifactDigest"], DIGEST, "derived from imageUri");
    assert_eq!(performer["revision"], 1);

    // Read it back with the lowercase and the uppercase form: same entry, with functionStatus.
    let upper = format!("0x{}", AVS[2..].to_uppercase());
    for form in [AVS.to_lowercase(), upper.clone()] {
        let (status, got) = send(registry.get(&format!("/performers/{form}/3"))).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["functionName"], function);
        assert_eq!(got["releaseId"], 1);
        assert_eq!(got["functionStatus"]["state"], "Active", "{got}");
        assert!(got["functionStatus"]["lastModified"].is_string(), "{got}");
        assert!(got["functionStatus"]["codeSize"].is_number(), "{got}");
    }

    // Update: revision moves, createdAt stays, the new release joins the history.
    let (status, updated) = send(registry.put(
        &format!("/performers/{}/3", AVS.to_lowercase()),
        &json!({"releaseId": 2, "functionVersion": "2"}),
    ))
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["message"], "Performer updated");
    assert_eq!(updated["performer"]["revision"], 2);
    assert_eq!(updated["performer"]["createdAt"], performer["createdAt"]);
    let (status, history) = send(registry.get(&format!("/performers/{upper}/3/releases"))).await;
    assert_eq!(status, 200);
    assert_eq!(history["count"], 2);
    assert_eq!(history["releases"][0]["releaseId"], 2, "newest first");
    assert_eq!(history["releases"][0]["functionVersion"], "2");
    assert_eq!(history["releases"][0]["outcome"], "registered");
    assert_eq!(history["releases"][1]["artifactDigest"], DIGEST);

    // Listed once.
    let (_, list) = send(registry.get("/performers")).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["performers"][0]["operatorSetId"], 3);

    // Delete with yet another case form; then it is gone but its history stays.
    let (status, deleted) = send(registry.delete(&format!("/performers/{upper}/3"))).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["message"], "Performer deregistered");
    assert_eq!(deleted["deletedPerformer"]["functionName"], function);
    expect_error(registry.get(&format!("/performers/{AVS}/3")), 404, &["no performer"]).await;
    expect_error(registry.delete(&format!("/performers/{AVS}/3")), 404, &["no performer"]).await;
    let (status, history) = send(registry.get(&format!("/performers/{AVS}/3/releases"))).await;
    assert_eq!((status, history["count"].as_u64()), (200, Some(2)));
}

#[tokio::test(flavor = "multi_thread")]
async fn put_requires_the_function_to_exist_and_leaves_nothing_behind() {
    let registry = Registry::start().await;
    expect_error(
        registry.put(
            &format!("/performers/{AVS}/4"),
            &json!({"functionName": "quartz-test-no-such-function"}),
        ),
        400,
        &["functionName", "quartz-test-no-such-function", "does not exist"],
    )
    .await;
    expect_error(registry.get(&format!("/performers/{AVS}/4")), 404, &[]).await;
    expect_error(
        registry.get(&format!("/performers/{AVS}/4/releases")),
        404,
        &["no performer"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_lambda_api_is_reported_not_hidden() {
    let registry = Registry::start_with(Some("http://127.0.0.1:9".into()), Some(crate::harness::TOKEN)).await;
    let message = expect_error(
        registry.put(&format!("/performers/{AVS}/5"), &json!({})),
        502,
        &["Lambda API"],
    )
    .await;
    assert!(message.contains("reached"), "{message}");
    // A performer written directly (as the factory does) shows the lookup failure as Unknown.
    let update = quartz_core::registry::PerformerUpdate {
        function_name: "some-function".parse().unwrap(),
        function_arn: None,
        release_id: None,
        function_version: None,
        image_uri: None,
        artifact_digest: None,
        status: Default::default(),
    };
    let set = quartz_core::OperatorSet::parse(AVS, "5").unwrap();
    registry
        .store
        .put_performer(
            set,
            update,
            Default::default(),
            quartz_core::registry::ReleaseOutcome::Deployed,
        )
        .await
        .unwrap();
    let (status, got) = send(registry.get(&format!("/performers/{AVS}/5"))).await;
    assert_eq!(status, 200);
    assert_eq!(got["functionStatus"]["state"], "Unknown");
    assert!(
        got["functionStatus"]["error"].as_str().unwrap().contains("reached"),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_writes_refuse_a_stale_revision() {
    let registry = Registry::start().await;
    create_function("quartz-test-conditional").await;
    let path = format!("/performers/{AVS}/6");
    let body = json!({"functionName": "quartz-test-conditional"});
    let (status, _) = send(registry.put(&path, &body)).await;
    assert_eq!(status, 201);
    let (status, _) = send(registry.put(&path, &body).header("If-Match", "1")).await;
    assert_eq!(status, 200);
    expect_error(
        registry.put(&path, &body).header("If-Match", "1"),
        412,
        &["revision", "expected 1", "found 2"],
    )
    .await;
    expect_error(registry.delete(&path).header("If-Match", "\"1\""), 412, &["revision"]).await;
    expect_error(registry.put(&path, &body).header("If-Match", "abc"), 400, &["If-Match"]).await;
    let (status, got) = send(registry.get(&path)).await;
    assert_eq!(
        (status, got["revision"].as_u64()),
        (200, Some(2)),
        "refused writes changed nothing"
    );
    let (status, _) = send(registry.delete(&path).header("If-Match", "2")).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics_report_the_service() {
    let registry = Registry::start().await;
    let (status, health) = send(registry.get("/healthz")).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let _ = send(registry.get("/performers")).await;
    let text = registry.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("quartz_http_requests_total") && l.contains("route=\"/performers\"")),
        "{text}"
    );
    let (status, spec) = send(registry.get("/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/performers/{avs}/{opsetId}/releases"]["get"].is_object());
}

/// A Lambda API that accepts connections and never answers: the registry answers 502 with a JSON
/// error within its own deadline, instead of hanging until the request timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_lambda_api_gives_a_json_502_not_a_hang() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for stream in silent.incoming().take(8) {
            kept.push(stream);
        }
    });
    let registry = Registry::start_with(Some(endpoint), Some(crate::harness::TOKEN)).await;
    expect_error(
        registry.put(&format!("/performers/{AVS}/13"), &json!({})),
        502,
        &["Lambda API"],
    )
    .await;
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn invented_methods_do_not_create_metric_series() {
    let registry = Registry::start().await;
    for method in ["RND1", "RND2", "RND3"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = registry
            .http
            .request(method, format!("{}/healthz", registry.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
    }
    let text = registry.get("/metrics").send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("RND"), "{text}");
    assert!(text.contains("method=\"other\""), "{text}");
}
