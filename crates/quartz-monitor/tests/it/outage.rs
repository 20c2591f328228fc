//! RPC outages: a dead endpoint is failed over, and anvil stopped then restarted is survived
//! without skipping the blocks mined around the outage.

use alloy::primitives::Address;
use quartz_testkit::{Anvil, free_port};
use std::time::Duration;

use crate::chain::{FORK_AVS, set};
use crate::{Running, assert_matches, chain, config, find, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn an_rpc_outage_is_survived_with_no_skipped_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut anvil = Anvil::fork_persistent(&dir.path().join("chain.json"));
    let fork_avs: Address = FORK_AVS.parse().unwrap();
    let target = set(fork_avs, 1);
    let chain = chain(&anvil.endpoint());
    chain.fund(fork_avs).await;
    // The first endpoint never answers: every call fails over to anvil.
    let mut cfg = config(&format!("http://127.0.0.1:{}", free_port()), chain.head().await + 1);
    cfg.rpc_urls.push(anvil.endpoint());
    let monitor = Running::start(cfg);

    let first = chain.publish(&target, 70, 1).await;
    monitor.wait_scanned(first.block).await;
    // Published right before the outage: the monitor has most likely not scanned it yet.
    let during = chain.publish(&target, 71, 1).await;
    chain.mine(20).await;
    let _anvil = tokio::task::spawn_blocking(move || {
        anvil.stop();
        std::thread::sleep(Duration::from_secs(2));
        anvil.restart();
        anvil
    })
    .await
    .unwrap();
    assert!(!monitor.task.is_finished(), "the monitor stopped during the outage");

    chain.fund(fork_avs).await;
    let after = chain.publish(&target, 72, 1).await;
    chain.mine(3).await;
    let head = chain.head().await;
    monitor.wait_scanned(head).await;
    let entries = monitor.entries().await;
    for published in [&first, &during, &after] {
        let [entry] = find(&entries, published)[..] else {
            panic!("release {} not exactly once", published.release_id)
        };
        assert_matches(entry, published);
    }
    assert_eq!(entries.len(), 3);
    let status = quartz_monitor::status(&monitor.store).await.unwrap();
    assert_eq!(status.chains[0].lag_blocks, Some(0));
    wait_until("no crash", || async { !monitor.task.is_finished() }).await;
    monitor.stop().await;
}
