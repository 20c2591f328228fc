use serde_json::json;

use crate::harness::{AVS, Registry, avs, create_function, send};

const WRITERS: u64 = 8;
const PUTS: u64 = 100;

/// 8 concurrent writers × 100 PUTs on one performer: every write is applied exactly once
/// (the revision counts 800 and the history holds 800 releases), none is lost or merged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_times_one_hundred_puts_lose_no_update() {
    let registry = std::sync::Arc::new(Registry::start().await);
    create_function("quartz-test-concurrent").await;
    let path = format!("/performers/{AVS}/9");
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let registry = registry.clone();
        let path = path.clone();
        // Each writer also owns a performer of its own, to check that no write lands elsewhere.
        let own = format!("/performers/{}/9", avs(writer as u32));
        tasks.push(tokio::spawn(async move {
            for i in 0..PUTS {
                let release = writer * 1000 + i;
                let body = json!({"functionName": "quartz-test-concurrent", "releaseId": release});
                let (status, got) = send(registry.put(&path, &body)).await;
                assert!(status == 200 || status == 201, "{got}");
                let (status, got) = send(registry.put(&own, &body)).await;
                assert!(status == 200 || status == 201, "{got}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer finished");
    }
    let (status, shared) = send(registry.get(&path)).await;
    assert_eq!(status, 200);
    assert_eq!(shared["revision"], WRITERS * PUTS, "every PUT applied once");
    let (_, history) = send(registry.get(&format!("{path}/releases?limit=1000"))).await;
    assert_eq!(history["count"], WRITERS * PUTS);
    let mut releases: Vec<u64> = history["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["releaseId"].as_u64().unwrap())
        .collect();
    releases.sort();
    let expected: Vec<u64> = (0..WRITERS)
        .flat_map(|w| (0..PUTS).map(move |i| w * 1000 + i))
        .collect();
    assert_eq!(releases, expected, "each write recorded exactly once");
    for writer in 0..WRITERS {
        let (_, own) = send(registry.get(&format!("/performers/{}/9", avs(writer as u32)))).await;
        assert_eq!(own["revision"], PUTS);
        assert_eq!(own["releaseId"], writer * 1000 + PUTS - 1, "the last write wins");
    }
}

/// Conditional writes racing on one revision: exactly one wins, the others get 412.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_conditional_writes_have_exactly_one_winner() {
    let registry = std::sync::Arc::new(Registry::start().await);
    create_function("quartz-test-race").await;
    let path = format!("/performers/{AVS}/10");
    let (status, _) = send(registry.put(&path, &json!({"functionName": "quartz-test-race"}))).await;
    assert_eq!(status, 201);
    let mut tasks = Vec::new();
    for release in 0..8u64 {
        let registry = registry.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"functionName": "quartz-test-race", "releaseId": release});
            send(registry.put(&path, &body).header("If-Match", "1")).await.0
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 412, 412, 412, 412, 412, 412, 412]);
    let (_, got) = send(registry.get(&path)).await;
    assert_eq!(got["revision"], 2);
}
