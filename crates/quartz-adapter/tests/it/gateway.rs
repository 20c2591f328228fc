//! API Gateway mode (`LAMBDA_API_ENDPOINT`) against a scripted stand-in for the gateway.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use quartz_adapter::{AdapterConfig, AdapterDeps};
use serde_json::{Value, json};

use crate::harness::{AVS_A, Adapter, perform_body};

type Answer = (u16, Option<&'static str>, String);

#[derive(Clone, Default)]
struct Gateway {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    /// The default answer once the script is exhausted.
    fallback: Arc<Mutex<Option<Answer>>>,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn task(State(gateway): State<Gateway>, body: Bytes) -> Response {
    gateway
        .received
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    let next = gateway.answers.lock().unwrap().pop_front();
    let (status, function_error, body) =
        next.or_else(|| gateway.fallback.lock().unwrap().clone())
            .unwrap_or((500, None, "no answer scripted".into()));
    let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    if let Some(kind) = function_error {
        response
            .headers_mut()
            .insert("x-amz-function-error", kind.parse().unwrap());
    }
    response
}

impl Gateway {
    async fn start() -> (Self, String) {
        let gateway = Self::default();
        let app = Router::new()
            .route("/prod/task", post(task))
            .with_state(gateway.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/prod", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (gateway, base)
    }

    fn script(&self, answers: Vec<Answer>) {
        self.received.lock().unwrap().clear();
        *self.answers.lock().unwrap() = answers.into();
    }

    fn calls(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_mode_retries_only_throttling_and_maps_errors() {
    let (gateway, base) = Gateway::start().await;
    let config = AdapterConfig {
        avs_address: Some(AVS_A.into()),
        operator_set_id: Some("4".into()),
        lambda_api_endpoint: Some(base),
        function_timeout_secs: 1,
        ..AdapterConfig::default()
    };
    let adapter = Adapter::start(config, AdapterDeps::default()).await;
    let request = perform_body(AVS_A, json!({"operation": "compute"}));

    // 429 twice, then the answer: retried, and the function saw the event schema.
    gateway.script(vec![
        (429, None, "slow down".into()),
        (429, None, "slow down".into()),
        (200, None, r#"{"ok":true}"#.into()),
    ]);
    let (status, body) = adapter.perform(&request).await;
    assert_eq!((status, &body["result"]), (200, &json!({"ok": true})), "{body}");
    assert_eq!(gateway.calls(), 3);
    let event = gateway.received.lock().unwrap()[0].clone();
    assert_eq!(
        event,
        json!({"avsAddress": AVS_A, "operatorSetId": 4, "taskId": "task-1", "payload": {"operation": "compute"}})
    );

    // Function errors, flagged by header or passed through as Lambda's error body.
    gateway.script(vec![(
        200,
        Some("Unhandled"),
        r#"{"errorType":"Boom","errorMessage":"boom 1"}"#.into(),
    )]);
    let (status, body) = adapter.perform(&request).await;
    assert_eq!(
        (status, body["error"].as_str(), body["errorType"].as_str()),
        (502, Some("boom 1"), Some("Boom"))
    );
    gateway.script(vec![(
        200,
        None,
        r#"{"errorType":"Boom","errorMessage":"boom 2","stackTrace":[]}"#.into(),
    )]);
    let (status, body) = adapter.perform(&request).await;
    assert_eq!((status, body["error"].as_str()), (502, Some("boom 2")));

    // Answers that may come after the function ran are never retried.
    for (gateway_status, expected) in [(504, 504), (502, 503), (500, 503)] {
        gateway.script(vec![(gateway_status, None, "upstream trouble".into())]);
        let (status, body) = adapter.perform(&request).await;
        assert_eq!(status, expected, "{gateway_status}: {body}");
        assert_eq!(gateway.calls(), 1, "{gateway_status} was retried");
    }

    // Throttled for good: retried with backoff until the deadline (1 s function timeout + 5 s
    // margin), then UNAVAILABLE, without overrunning the deadline.
    gateway.script(vec![]);
    *gateway.fallback.lock().unwrap() = Some((429, None, "slow down".into()));
    let started = Instant::now();
    let (status, body) = adapter.perform(&request).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("throttled"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(7), "{:?}", started.elapsed());
    assert!(gateway.calls() > 3, "only {} attempts", gateway.calls());
}
