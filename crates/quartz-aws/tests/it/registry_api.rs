//! The registry HTTP API served over DynamoDB: the same routes and answers as over SQLite.

use std::sync::Arc;

use aws_sdk_lambda::types::{FunctionCode, PackageType};
use quartz_aws::{DynamoRegistry, RegistryTables};
use quartz_core::{AvsAddress, FunctionName, OperatorSet};
use quartz_registry::RegistryState;
use quartz_store::Store;
use quartz_testkit::{MOTO_ROLE_ARN, Moto};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::sdk;
use quartz_testkit::unique_name;

const AVS: &str = "0x00000000000000000000000000000000000000a5";

#[tokio::test]
async fn the_registry_api_keeps_entries_in_dynamodb() {
    let moto = Moto::shared();
    let sdk = sdk(moto).await;
    let dynamo = DynamoRegistry::new(
        &sdk,
        RegistryTables {
            performers: unique_name("api-performers"),
            history: unique_name("api-history"),
        },
    );
    dynamo.create_tables().await.unwrap();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let set = OperatorSet::new(AVS.parse::<AvsAddress>().unwrap(), 2);
    let name = FunctionName::for_operator_set(&set);
    lambda
        .create_function()
        .function_name(name.as_str())
        .role(MOTO_ROLE_ARN)
        .package_type(PackageType::Image)
        .code(
            FunctionCode::builder()
                .image_uri("registry.example/p@sha256:".to_string() + &"1".repeat(64))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = Store::open_in(data.path()).unwrap();
    let state =
        RegistryState::new(store.clone(), lambda, Some("secret".into())).with_performers(Arc::new(dynamo.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(quartz_registry::serve(listener, state, shutdown.clone()));
    let http = reqwest::Client::new();
    let url = format!("{base}/performers/{AVS}/2");

    let created = http
        .put(&url)
        .bearer_auth("secret")
        .json(&json!({"releaseId": 3, "functionVersion": "3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["performer"]["revision"], 1);
    // In DynamoDB, not in the SQLite store.
    let stored = dynamo.get_performer(set).await.unwrap().unwrap();
    assert_eq!(stored.release_id, Some(3));
    assert_eq!(store.get_performer(set).await.unwrap(), None);

    let got: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["functionName"], name.as_str());
    assert_eq!(got["functionStatus"]["state"], "Active");

    let stale = http
        .put(&url)
        .bearer_auth("secret")
        .header("If-Match", "\"7\"")
        .json(&json!({"releaseId": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let error: Value = stale.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("expected 7, found 1"),
        "{error}"
    );

    let updated = http
        .put(&url)
        .bearer_auth("secret")
        .header("If-Match", "\"1\"")
        .json(&json!({"releaseId": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let history: Value = http
        .get(format!("{url}/releases"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["count"], 2);
    assert_eq!(history["releases"][0]["releaseId"], 4);

    let list: Value = http
        .get(format!("{base}/performers?avs={AVS}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 1);
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);

    let deleted = http.delete(&url).bearer_auth("secret").send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(dynamo.get_performer(set).await.unwrap(), None);
    shutdown.cancel();
}
