//! A reorg that removes one release and re-includes another.

use alloy::primitives::Address;
use quartz_monitor::{Completion, ReleaseStatus};
use quartz_testkit::Anvil;
use std::time::Duration;

use crate::chain::{FORK_AVS, set};
use crate::{Running, assert_matches, chain, config, find, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn a_reorg_cancels_the_removed_release_and_keeps_the_reincluded_one() {
    let anvil = Anvil::fork();
    let chain = chain(&anvil.endpoint());
    let fork_avs: Address = FORK_AVS.parse().unwrap();
    let removed_avs: Address = "0x0000000000000000000000000000000000aa0001".parse().unwrap();
    let kept_avs: Address = "0x0000000000000000000000000000000000aa0002".parse().unwrap();
    chain.fund(fork_avs).await;
    chain.new_avs(removed_avs, &[0]).await;
    chain.new_avs(kept_avs, &[0]).await;
    let monitor = Running::start(config(&anvil.endpoint(), chain.head().await + 1));

    // A release deployed before the reorg: only reconciliation may touch it afterwards.
    let deployed = chain.publish(&set(fork_avs, 1), 60, 1).await;
    wait_until("the first release", || async {
        !find(&monitor.entries().await, &deployed).is_empty()
    })
    .await;
    let claimed = monitor
        .outbox
        .claim_next(Duration::from_secs(600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.key.release_id, deployed.release_id);
    monitor
        .outbox
        .complete(claimed.key, Completion::Deployed)
        .await
        .unwrap();

    let snapshot = chain.snapshot().await;
    let removed = chain.publish(&set(removed_avs, 0), 61, 1).await;
    let kept = chain.publish(&set(kept_avs, 0), 62, 1).await;
    chain.mine(1).await;
    monitor.wait_scanned(kept.block + 1).await;
    let before = monitor.entries().await;
    assert_eq!(find(&before, &removed)[0].status, ReleaseStatus::Pending);
    let old_location = find(&before, &kept)[0].location.unwrap();

    // The new fork: the same release of `kept` in another block, `removed` never happened.
    chain.revert(snapshot).await;
    chain.mine(1).await;
    let kept_again = chain.publish(&set(kept_avs, 0), 62, 1).await;
    assert_eq!(kept_again.release_id, kept.release_id);
    chain.mine(5).await;
    let new_hash = chain.block_hash(kept_again.block).await;
    assert_ne!(new_hash, old_location.block_hash);
    let head = chain.head().await;
    wait_until("the rewind and rescan", || async {
        let entries = monitor.entries().await;
        let k = find(&entries, &kept_again);
        monitor.checkpoint().await >= head
            && find(&entries, &removed)[0].status == ReleaseStatus::Cancelled
            && k.len() == 1
            && k[0].location.is_some_and(|l| l.block_hash == new_hash)
    })
    .await;

    let entries = monitor.entries().await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    let gone = find(&entries, &removed)[0];
    assert!(
        gone.status_detail
            .as_deref()
            .unwrap_or_default()
            .contains("reorganization"),
        "{gone:?}"
    );
    let [again] = find(&entries, &kept_again)[..] else {
        panic!("kept release not exactly once")
    };
    assert_eq!(again.status, ReleaseStatus::Pending);
    assert_matches(again, &kept_again);
    assert_eq!(find(&entries, &deployed)[0].status, ReleaseStatus::Deployed);
    monitor.stop().await;
}
