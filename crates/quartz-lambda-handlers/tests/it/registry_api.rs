//! The registry-api handler with API Gateway REST proxy events, over DynamoDB on moto: the
//! registry's own routes, status codes and JSON bodies, without a bearer token (API Gateway's
//! IAM authorisation stands in front of it).

use std::sync::Arc;

use aws_sdk_lambda::types::{FunctionCode, PackageType};
use quartz_aws::{DynamoRegistry, RegistryTables};
use quartz_core::{AvsAddress, FunctionName, OperatorSet};
use quartz_lambda_handlers::{INVALID_INPUT, RegistryApiHandler};
use quartz_store::Store;
use quartz_testkit::{MOTO_ROLE_ARN, Moto};
use serde_json::{Value, json};

use crate::sdk;
use quartz_testkit::unique_name;

const AVS: &str = "0x00000000000000000000000000000000000000b7";

/// A REST API (v1) proxy event as API Gateway sends it for `{proxy+}` on stage `prod`.
pub fn proxy_event(method: &str, path: &str, query: Option<Value>, body: Option<&str>) -> Value {
    let multi = query.as_ref().map(|q| {
        let map: serde_json::Map<String, Value> = q
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), json!([v])))
            .collect();
        Value::Object(map)
    });
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"], "Host": ["abc.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi,
        "pathParameters": {"proxy": path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "r1",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "192.0.2.1", "userArn": "arn:aws:iam::123456789012:user/operator"},
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "apiId": "abc",
            "path": format!("/prod{path}"),
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// The status and JSON body of the handler's proxy response.
async fn call(handler: &RegistryApiHandler, event: Value) -> (i64, Value) {
    let response = handler.handle(event).await.unwrap();
    let response = serde_json::to_value(response).unwrap();
    assert_eq!(response["isBase64Encoded"], false, "JSON answers are text: {response}");
    let content_type = &response["multiValueHeaders"]["content-type"][0];
    assert!(
        content_type.as_str().unwrap().starts_with("application/json"),
        "{response}"
    );
    let body = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (response["statusCode"].as_i64().unwrap(), body)
}

#[tokio::test]
async fn proxy_events_reach_the_registry_routes_over_dynamodb() {
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
    let set = OperatorSet::new(AVS.parse::<AvsAddress>().unwrap(), 3);
    let name = FunctionName::for_operator_set(&set);
    lambda
        .create_function()
        .function_name(name.as_str())
        .role(MOTO_ROLE_ARN)
        .package_type(PackageType::Image)
        .code(
            FunctionCode::builder()
                .image_uri("registry.example/p@sha256:".to_string() + &"2".repeat(64))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let handler = RegistryApiHandler::behind_api_gateway(store, lambda, Arc::new(dynamo.clone()));
    let item = format!("/performers/{AVS}/3");

    let (status, body) = call(&handler, proxy_event("GET", "/performers", None, None)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"performers": [], "count": 0, "nextCursor": null}));

    // No Authorization header: API Gateway authorised the caller with IAM.
    let put = r#"{"releaseId": 5, "functionVersion": "5"}"#;
    let (status, body) = call(&handler, proxy_event("PUT", &item, None, Some(put))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["performer"]["functionName"], name.as_str());
    assert_eq!(body["performer"]["releaseId"], 5);
    let stored = dynamo.get_performer(set).await.unwrap().unwrap();
    assert_eq!(stored.release_id, Some(5));

    let (status, body) = call(&handler, proxy_event("PUT", &item, None, Some(r#"{"releaseId": 6}"#))).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = call(&handler, proxy_event("GET", &item, None, None)).await;
    assert_eq!(status, 200);
    assert_eq!(body["releaseId"], 6);
    assert_eq!(body["functionStatus"]["state"], "Active");

    // Query parameters cross over: the list filtered by AVS, and a limit out of range.
    let (status, body) = call(
        &handler,
        proxy_event("GET", "/performers", Some(json!({"avs": AVS, "limit": "10"})), None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 1);
    assert_eq!(body["performers"][0]["operatorSetId"], 3);
    let (status, body) = call(
        &handler,
        proxy_event("GET", "/performers", Some(json!({"limit": "0"})), None),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");

    let (status, body) = call(&handler, proxy_event("GET", &format!("{item}/releases"), None, None)).await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 2);
    assert_eq!(body["releases"][0]["releaseId"], 6);

    // Bad requests get the registry's own 4xx and {"error"}.
    let (status, body) = call(&handler, proxy_event("PUT", &item, None, Some("{not json"))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].is_string());
    let (status, body) = call(&handler, proxy_event("GET", "/performers/not-an-address/3", None, None)).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(&handler, proxy_event("GET", "/nowhere", None, None)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].is_string());
    let (status, _) = call(&handler, proxy_event("POST", &item, None, Some("{}"))).await;
    assert_eq!(status, 405);
    let other = format!("/performers/{AVS}/4");
    let (status, body) = call(&handler, proxy_event("PUT", &other, None, Some(r#"{"releaseId": 1}"#))).await;
    assert_eq!(status, 400, "the function does not exist: {body}");

    let (status, body) = call(&handler, proxy_event("DELETE", &item, None, None)).await;
    assert_eq!(status, 200);
    assert_eq!(body["deletedPerformer"]["releaseId"], 6);
    assert!(body["message"].is_string());
    let (status, _) = call(&handler, proxy_event("GET", &item, None, None)).await;
    assert_eq!(status, 404);
    let (status, _) = call(&handler, proxy_event("DELETE", &item, None, None)).await;
    assert_eq!(status, 404);
    assert_eq!(dynamo.get_performer(set).await.unwrap(), None);

    // A base64 body (API Gateway's binary media types) is decoded.
    let mut event = proxy_event("PUT", &item, None, Some("eyJyZWxlYXNlSWQiOiA3fQ=="));
    event["isBase64Encoded"] = json!(true);
    let (status, body) = call(&handler, event).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["performer"]["releaseId"], 7);

    // Not a proxy event at all: an error of the function, not a response.
    let error = handler.handle(json!({"hello": "world"})).await.unwrap_err();
    assert_eq!(error.error_type(), INVALID_INPUT);
    assert!(error.to_string().contains("API Gateway REST proxy event"), "{error}");
}
