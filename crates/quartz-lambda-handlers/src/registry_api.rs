//! The registry-api function: API Gateway REST (v1) proxy events into the registry's own axum
//! router, over DynamoDB, so the routes, status codes and bodies are exactly those of
//! `quartz registry` / `quartz up`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body as EventBody;
use axum::Router;
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, Request, header};
use http_body_util::BodyExt;
use quartz_aws::DynamoRegistry;
use quartz_lambda_client::Client as LambdaClient;
use quartz_registry::RegistryState;
use quartz_store::{PerformerBackend, Store};
use serde_json::Value;
use tower::ServiceExt;

use crate::settings::Common;
use crate::{HandlerError, TARGET};

pub struct RegistryApiHandler {
    router: Router,
}

impl RegistryApiHandler {
    pub fn new(state: RegistryState) -> Self {
        Self {
            router: quartz_registry::router(state),
        }
    }

    /// The registry as deployed behind API Gateway: entries in `performers` (DynamoDB), function
    /// status from `lambda`, and `store` (empty) for the executions routes, which list nothing
    /// on AWS, where executions live in Step Functions.
    ///
    /// No bearer token: the REST API's methods that write (PUT, DELETE) use `AWS_IAM`
    /// authorisation, so API Gateway has verified the caller's SigV4 signature and IAM policy
    /// before the event reaches this function, and nothing but API Gateway may invoke it (the
    /// stack grants `lambda:InvokeFunction` to apigateway.amazonaws.com for this API only). A
    /// token on top would be a second secret to distribute with nothing gained.
    pub fn behind_api_gateway(store: Store, lambda: LambdaClient, performers: Arc<dyn PerformerBackend>) -> Self {
        Self::new(RegistryState::new(store, lambda, None).with_performers(performers))
    }

    /// As deployed: DynamoDB from the environment's tables, the store in `work_dir` (the
    /// function's `/tmp`).
    pub async fn from_settings(common: &Common, work_dir: &Path) -> Result<Self, HandlerError> {
        let sdk = common.aws.load().await;
        let store = Store::open_in(work_dir).map_err(|e| HandlerError::Env {
            name: "TMPDIR",
            reason: format!("cannot open a store in {}: {e}", work_dir.display()),
        })?;
        let lambda = quartz_lambda_client::build_client(
            &quartz_lambda_client::LambdaClientConfig {
                endpoint: common.aws.endpoint.clone(),
                region: common.aws.region.clone(),
            },
            Duration::from_secs(8),
        )
        .await;
        let performers: Arc<dyn PerformerBackend> = Arc::new(DynamoRegistry::new(&sdk, common.tables.clone()));
        Ok(Self::behind_api_gateway(store, lambda, performers))
    }

    /// One proxy event in, one proxy response out. An event that is not a REST proxy event is
    /// [`HandlerError::InvalidInput`] (API Gateway never sends one); a bad request inside a
    /// proxy event is the router's 4xx, like over HTTP.
    pub async fn handle(&self, event: Value) -> Result<ApiGatewayProxyResponse, HandlerError> {
        let event: ApiGatewayProxyRequest = serde_json::from_value(event)
            .map_err(|e| HandlerError::InvalidInput(format!("not an API Gateway REST proxy event: {e}")))?;
        let request = to_request(event)?;
        let method = request.method().clone();
        let uri = request.uri().clone();
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| HandlerError::InvalidInput(format!("the response body could not be read: {e}")))?
            .to_bytes();
        tracing::info!(target: TARGET, %method, %uri, status = status.as_u16(), "registry request");
        Ok(to_response(status.as_u16(), parts.headers, bytes.to_vec()))
    }
}

fn to_request(event: ApiGatewayProxyRequest) -> Result<Request<Body>, HandlerError> {
    let path = event.path.unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        return Err(HandlerError::InvalidInput(format!(
            "path {path:?} does not start with /"
        )));
    }
    // API Gateway gives both forms; the multi-value one keeps repeated parameters.
    let query = if event.multi_value_query_string_parameters.is_empty() {
        &event.query_string_parameters
    } else {
        &event.multi_value_query_string_parameters
    };
    let mut uri = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in query.iter() {
        uri.append_pair(key, value);
    }
    let query = uri.finish();
    let path_and_query = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let body = match event.body {
        None => Vec::new(),
        Some(text) if event.is_base64_encoded => STANDARD
            .decode(text.as_bytes())
            .map_err(|e| HandlerError::InvalidInput(format!("isBase64Encoded but the body is not base64: {e}")))?,
        Some(text) => text.into_bytes(),
    };
    let headers = if event.multi_value_headers.is_empty() {
        event.headers
    } else {
        event.multi_value_headers
    };
    let mut request = Request::builder()
        .method(event.http_method)
        .uri(&path_and_query)
        .body(Body::from(body))
        .map_err(|e| HandlerError::InvalidInput(format!("{path_and_query:?}: {e}")))?;
    *request.headers_mut() = headers;
    Ok(request)
}

fn to_response(status: u16, headers: HeaderMap, body: Vec<u8>) -> ApiGatewayProxyResponse {
    let textual = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.starts_with("text/")
                || t.contains("json")
                || t.contains("javascript")
                || t.contains("xml")
                || t.contains("svg")
        });
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    // Only the multi-value form: API Gateway merges the two forms, so giving both would
    // repeat every header.
    response.multi_value_headers = headers;
    (response.body, response.is_base64_encoded) = if body.is_empty() {
        (None, false)
    } else if textual {
        match String::from_utf8(body) {
            Ok(text) => (Some(EventBody::Text(text)), false),
            Err(e) => (Some(EventBody::Binary(e.into_bytes())), true),
        }
    } else {
        (Some(EventBody::Binary(body)), true)
    };
    response
}
