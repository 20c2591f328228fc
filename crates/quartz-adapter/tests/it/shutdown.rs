use std::time::Duration;

use serde_json::json;

use crate::harness::{AVS_A, Env, perform_body, set};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_tasks_then_stops_accepting() {
    let env = Env::start().await;
    let target = set(AVS_A, 0);
    env.deploy(target, 5).await;
    let adapter = env.single(target).await;
    // Warm the function so the in-flight task is the 1 s `async` operation only.
    let (status, _) = adapter.perform(&perform_body(AVS_A, json!({}))).await;
    assert_eq!(status, 200);

    let in_flight = {
        let http = adapter.http.clone();
        let url = adapter.url("/perform");
        tokio::spawn(async move {
            let response = http
                .post(url)
                .json(&perform_body(AVS_A, json!({"operation": "async"})))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    adapter.shutdown.cancel();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["result"]["waitedMs"], 1000);
    let served = tokio::time::timeout(Duration::from_secs(10), adapter.task)
        .await
        .unwrap();
    assert!(served.unwrap().is_ok());
    assert!(
        tokio::net::TcpStream::connect(adapter.addr).await.is_err(),
        "still accepting"
    );
}
