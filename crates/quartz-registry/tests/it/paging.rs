use std::collections::HashSet;

use quartz_core::registry::{PerformerUpdate, ReleaseOutcome};
use quartz_core::{FunctionName, OperatorSet};
use serde_json::Value;

use crate::harness::{Registry, avs, create_function, expect_error, send};

/// Pages through `/performers` with `limit`, returning every (avs, id) seen, in order.
async fn walk(registry: &Registry, limit: usize, extra: &str) -> (Vec<(String, u64)>, Vec<usize>) {
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/performers?limit={limit}{extra}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = send(registry.get(&path)).await;
        assert_eq!(status, 200, "{page}");
        let performers = page["performers"].as_array().unwrap();
        assert_eq!(page["count"].as_u64().unwrap() as usize, performers.len());
        sizes.push(performers.len());
        for p in performers {
            seen.push((
                p["avsAddress"].as_str().unwrap().to_string(),
                p["operatorSetId"].as_u64().unwrap(),
            ));
        }
        match &page["nextCursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => break,
            other => panic!("nextCursor {other}"),
        }
        assert!(sizes.len() < 1000, "paging does not end");
    }
    (seen, sizes)
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_across_250_items_returns_each_once_in_order() {
    let registry = Registry::start().await;
    create_function("quartz-test-paging").await;
    // 250 entries over 25 AVSs × 10 operator sets, written over HTTP.
    for n in 0..25 {
        for id in 0..10u32 {
            let (status, body) = send(registry.put(
                &format!("/performers/{}/{}", avs(n), id * 1000),
                &serde_json::json!({"functionName": "quartz-test-paging"}),
            ))
            .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    let (default_page, sizes) = walk(&registry, 100, "").await;
    assert_eq!(sizes, vec![100, 100, 50]);
    let (small_pages, sizes) = walk(&registry, 7, "").await;
    assert_eq!(sizes.len(), 36, "250 / 7 rounded up");
    assert_eq!(default_page, small_pages);
    let unique: HashSet<_> = default_page.iter().cloned().collect();
    assert_eq!(unique.len(), 250);
    let mut sorted = default_page.clone();
    sorted.sort();
    assert_eq!(sorted, default_page, "stable (avs, id) order");

    // One page holds everything at the maximum size, and an AVS filter narrows the listing.
    let (_, sizes) = walk(&registry, 1000, "").await;
    assert_eq!(sizes, vec![250]);
    let (one_avs, _) = walk(
        &registry,
        3,
        &format!("&avs={}", avs(4).to_uppercase().replace("0X", "0x")),
    )
    .await;
    assert_eq!(one_avs.len(), 10);
    assert!(one_avs.iter().all(|(a, _)| *a == avs(4)));
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_is_not_confused_by_writes_between_pages() {
    let registry = Registry::start().await;
    let write = |n: u32| {
        let store = registry.store.clone();
        async move {
            let set = OperatorSet::parse(&avs(n), "1").unwrap();
            let update = PerformerUpdate {
                function_name: FunctionName::for_operator_set(&set),
                function_arn: None,
                release_id: None,
                function_version: None,
                image_uri: None,
                artifact_digest: None,
                status: Default::default(),
            };
            store
                .put_performer(set, update, Default::default(), ReleaseOutcome::Deployed)
                .await
                .unwrap();
        }
    };
    for n in [1, 3, 5] {
        write(n).await;
    }
    let (status, first) = send(registry.get("/performers?limit=2")).await;
    assert_eq!(status, 200);
    write(2).await; // before the cursor: not repeated, not shown
    write(4).await; // after the cursor: shown
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = send(registry.get(&format!("/performers?limit=10&cursor={cursor}"))).await;
    let ids: Vec<_> = second["performers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["avsAddress"].clone())
        .collect();
    assert_eq!(ids, vec![Value::from(avs(4)), Value::from(avs(5))]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_paging_parameters_are_named() {
    let registry = Registry::start().await;
    for limit in ["0", "1001", "abc", "-1", ""] {
        expect_error(registry.get(&format!("/performers?limit={limit}")), 400, &["limit"]).await;
    }
    for cursor in ["zzz", "0x00-1", &format!("{}-x", avs(1))] {
        expect_error(registry.get(&format!("/performers?cursor={cursor}")), 400, &["cursor"]).await;
    }
    expect_error(registry.get("/performers?avs=0x12"), 400, &["avs"]).await;
}
