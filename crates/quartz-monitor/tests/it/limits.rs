//! Backfill behind a provider that refuses ranges over 500 blocks and results over 20 logs.

use quartz_testkit::Anvil;
use std::sync::atomic::Ordering;

use crate::proxy::{Limits, Proxy};
use crate::scatter::scatter;
use crate::{Running, assert_matches, chain, config, find};

#[tokio::test(flavor = "multi_thread")]
async fn a_limited_provider_backfill_delivers_each_scattered_release_once() {
    // 20,000 empty blocks: prune history so that mining them takes seconds, not minutes.
    let anvil = Anvil::fork_with(&["--prune-history"]);
    let chain = chain(&anvil.endpoint());
    let scattered = scatter(&chain).await;
    let proxy = Proxy::start(
        &anvil.endpoint(),
        Limits {
            max_range: Some(500),
            max_results: Some(20),
            rate_limit_every: Some(7),
            ..Limits::default()
        },
    )
    .await;
    let monitor = Running::start(config(&proxy.url(), scattered.start));
    monitor.wait_scanned(scattered.end).await;

    let entries = monitor.entries().await;
    for published in &scattered.releases {
        let found = find(&entries, published);
        assert_eq!(
            found.len(),
            1,
            "release at block {} found {} times",
            published.block,
            found.len()
        );
        assert_matches(found[0], published);
    }
    assert_eq!(entries.len(), scattered.releases.len(), "unexpected extra releases");
    // The provider's limits were really hit, in each of their shapes.
    assert!(
        proxy.counters.range_refusals.load(Ordering::SeqCst) >= 2,
        "range limit never hit"
    );
    assert!(
        proxy.counters.result_refusals.load(Ordering::SeqCst) >= 1,
        "result limit never hit"
    );
    assert!(
        proxy.counters.rate_limited.load(Ordering::SeqCst) >= 1,
        "rate limit never hit"
    );
    monitor.stop().await;
}
