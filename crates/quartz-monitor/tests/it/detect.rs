//! Detection and operator-set resolution on the production contract.

use alloy::primitives::Address;
use quartz_monitor::{Discover, ReleaseStatus, ResolvedBy, WatchedSet};
use quartz_testkit::Anvil;

use crate::chain::{FORK_AVS, set};
use crate::proxy::{Limits, Proxy};
use crate::{Running, assert_matches, chain, config, find, wait_until};

#[tokio::test(flavor = "multi_thread")]
async fn watched_and_unwatched_releases_are_detected_with_their_fields() {
    let anvil = Anvil::fork();
    let chain = chain(&anvil.endpoint());
    let fork_avs: Address = FORK_AVS.parse().unwrap();
    let stranger: Address = "0x00000000000000000000000000000000000b0b01".parse().unwrap();
    chain.fund(fork_avs).await;
    chain.new_avs(stranger, &[7]).await;
    let start = chain.head().await + 1;

    let mut cfg = config(&anvil.endpoint(), start);
    cfg.watch = vec![
        WatchedSet {
            avs: FORK_AVS.parse().unwrap(),
            operator_set_id: 0,
        },
        WatchedSet {
            avs: FORK_AVS.parse().unwrap(),
            operator_set_id: 1,
        },
    ];
    let monitor = Running::start(cfg);
    let watched = chain.publish(&set(fork_avs, 1), 10, 1).await;
    let unwatched = chain.publish(&set(stranger, 7), 20, 2).await;
    monitor.wait_scanned(unwatched.block).await;
    wait_until("reconciliation of the fork's release 0", || async {
        monitor.entries().await.len() >= 3
    })
    .await;

    let entries = monitor.entries().await;
    let [w] = find(&entries, &watched)[..] else {
        panic!("watched release not exactly once: {entries:#?}")
    };
    assert_matches(w, &watched);
    assert_eq!(w.resolved_by, ResolvedBy::Table);
    let [u] = find(&entries, &unwatched)[..] else {
        panic!("unwatched release not exactly once: {entries:#?}")
    };
    assert_matches(u, &unwatched);
    assert_eq!(u.resolved_by, ResolvedBy::Input);
    assert_eq!(u.release.artifacts.len(), 2);

    // Release 0 of set 0 predates the start block: only reconciliation can find it.
    let old = entries
        .iter()
        .find(|e| e.key.operator_set == set(fork_avs, 0))
        .expect("reconciled release");
    assert_eq!(old.key.release_id, 0);
    assert_eq!(old.resolved_by, ResolvedBy::Reconcile);
    assert_eq!(
        old.release.artifacts[0].digest.to_string(),
        "sha256:1f3770694bb5bf52025c03d3ac4fefc34da07711fd515d2635d52639ba73794e"
    );
    assert_eq!(old.release.artifacts[0].registry_url, "ghcr.io/bdchatham/hgctl-integ");
    assert_eq!(old.release.upgrade_by_time, 2_759_793_679);
    assert!(entries.iter().all(|e| e.status == ReleaseStatus::Pending));
    assert_eq!(entries.len(), 3, "{entries:#?}");
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watched_only_mode_ignores_other_operator_sets() {
    let anvil = Anvil::fork();
    let chain = chain(&anvil.endpoint());
    let fork_avs: Address = FORK_AVS.parse().unwrap();
    let stranger: Address = "0x00000000000000000000000000000000000b0b02".parse().unwrap();
    chain.fund(fork_avs).await;
    chain.new_avs(stranger, &[0]).await;
    let start = chain.head().await + 1;
    let mut cfg = config(&anvil.endpoint(), start);
    cfg.discover = Discover::Watched;
    cfg.watch = vec![WatchedSet {
        avs: FORK_AVS.parse().unwrap(),
        operator_set_id: 1,
    }];
    let monitor = Running::start(cfg);
    let other = chain.publish(&set(stranger, 0), 30, 1).await;
    let watched = chain.publish(&set(fork_avs, 1), 31, 1).await;
    monitor.wait_scanned(watched.block.max(other.block)).await;

    let entries = monitor.entries().await;
    assert_eq!(find(&entries, &watched).len(), 1);
    assert!(
        find(&entries, &other).is_empty(),
        "an unwatched set was enqueued: {entries:#?}"
    );
    let status = quartz_monitor::status(&monitor.store).await.unwrap();
    assert_eq!(status.chains[0].unresolved_count, 0, "ignored logs are not unresolved");
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_through_a_forwarding_contract_is_resolved_by_its_call_trace() {
    let anvil = Anvil::fork();
    let chain = chain(&anvil.endpoint());
    let forwarder = chain.deploy_forwarder().await;
    let target = set(forwarder, 2);
    chain.metadata_via(forwarder, &target).await;
    let start = chain.head().await + 1;
    let monitor = Running::start(config(&anvil.endpoint(), start));
    let published = chain.publish_via(forwarder, &target, 40).await;
    monitor.wait_scanned(published.block).await;

    let entries = monitor.entries().await;
    let [entry] = find(&entries, &published)[..] else {
        panic!("not exactly once: {entries:#?}")
    };
    assert_matches(entry, &published);
    assert_eq!(entry.key.operator_set.avs.as_address(), forwarder);
    assert_eq!(entry.resolved_by, ResolvedBy::Trace);
    monitor.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unresolvable_release_is_recorded_and_does_not_block_later_ones() {
    let anvil = Anvil::fork();
    let chain = chain(&anvil.endpoint());
    // A provider without the debug namespace: the forwarded release cannot be resolved.
    let proxy = Proxy::start(
        &anvil.endpoint(),
        Limits {
            hidden_methods: vec!["debug_traceTransaction"],
            ..Limits::default()
        },
    )
    .await;
    let forwarder = chain.deploy_forwarder().await;
    let hidden = set(forwarder, 0);
    chain.metadata_via(forwarder, &hidden).await;
    let fork_avs: Address = FORK_AVS.parse().unwrap();
    chain.fund(fork_avs).await;
    let start = chain.head().await + 1;
    let monitor = Running::start(config(&proxy.url(), start));
    let lost = chain.publish_via(forwarder, &hidden, 50).await;
    let later = chain.publish(&set(fork_avs, 1), 51, 1).await;
    monitor.wait_scanned(later.block).await;

    let entries = monitor.entries().await;
    assert!(find(&entries, &lost).is_empty());
    let [entry] = find(&entries, &later)[..] else {
        panic!("later release missing: {entries:#?}")
    };
    assert_matches(entry, &later);
    assert_eq!(entry.resolved_by, ResolvedBy::Input);
    let status = quartz_monitor::status(&monitor.store).await.unwrap();
    let chain_status = &status.chains[0];
    assert_eq!(chain_status.unresolved_count, 1);
    let unresolved = &chain_status.unresolved[0];
    assert_eq!(unresolved.location.tx_hash, lost.tx);
    assert_eq!(unresolved.release_id, Some(lost.release_id));
    assert_eq!(
        unresolved.operator_set_hash,
        quartz_monitor::contract::operator_set_topic(&hidden)
    );
    assert!(
        unresolved.reason.contains("debug_traceTransaction"),
        "{}",
        unresolved.reason
    );
    monitor.stop().await;
}
