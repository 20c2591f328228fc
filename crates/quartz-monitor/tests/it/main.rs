//! Integration tests of the release monitor against anvil loaded with the EigenLayer Sepolia
//! fork state: the production ReleaseManager, not a stand-in.
#![allow(clippy::unwrap_used)]

mod chain;
mod detect;
mod limits;
mod outage;
mod proxy;
mod reorg;
mod restarts;
mod scatter;

use std::future::Future;
use std::time::{Duration, Instant};

use quartz_monitor::{Discover, MonitorConfig, Outbox, OutboxEntry, ReleaseStatus};
use quartz_store::Store;
use tokio_util::sync::CancellationToken;

use chain::{Chain, Published, RM};

/// A monitor running in this process on a store in a temp dir; stopped on drop.
pub struct Running {
    pub store: Store,
    pub outbox: Outbox,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), quartz_monitor::MonitorError>>,
    _dir: tempfile::TempDir,
}

impl Running {
    pub fn start(config: MonitorConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(quartz_monitor::run(config, store.clone(), shutdown.clone()));
        Self {
            outbox: Outbox::new(store.clone()),
            store,
            shutdown,
            task,
            _dir: dir,
        }
    }

    pub async fn entries(&self) -> Vec<OutboxEntry> {
        self.outbox.list(None, 10_000).await.unwrap()
    }

    pub async fn checkpoint(&self) -> u64 {
        checkpoint_of(&self.store).await
    }

    /// Waits until the scan has passed `block`.
    pub async fn wait_scanned(&self, block: u64) {
        wait_until("the checkpoint to pass the block", || async {
            self.checkpoint().await >= block
        })
        .await;
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

pub async fn checkpoint_of(store: &Store) -> u64 {
    let status = quartz_monitor::status(store).await.unwrap();
    status.chains.first().map_or(0, |c| c.checkpoint.number)
}

/// A config for the fork chain: no confirmations, fast polls, discovery of every set.
pub fn config(rpc: &str, start_block: u64) -> MonitorConfig {
    MonitorConfig {
        rpc_urls: vec![rpc.to_string()],
        chain_id: Some(31337),
        release_manager: Some(RM),
        start_block: Some(start_block),
        confirmations: quartz_monitor::Confirmations::Blocks(0),
        discover: Discover::All,
        poll_interval_ms: 100,
        max_backoff_ms: 500,
        rpc_timeout_ms: 5_000,
        progress_bar: false,
        ..MonitorConfig::default()
    }
}

/// Polls `condition` until it holds; fails after a generous bound so a hang shows as a failure.
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(180);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that an outbox entry carries exactly what was published.
pub fn assert_matches(entry: &OutboxEntry, published: &Published) {
    assert_eq!(entry.key.chain_id, 31337);
    assert_eq!(entry.key.operator_set, published.set);
    assert_eq!(entry.key.release_id, published.release_id);
    assert_eq!(entry.release.operator_set, published.set);
    assert_eq!(entry.release.upgrade_by_time, published.upgrade_by_time);
    let digests: Vec<_> = entry
        .release
        .artifacts
        .iter()
        .map(|a| a.digest.as_bytes().to_vec())
        .collect();
    let expected: Vec<_> = published.digests.iter().map(|d| d.to_vec()).collect();
    assert_eq!(digests, expected);
    let urls: Vec<_> = entry.release.artifacts.iter().map(|a| a.registry_url.clone()).collect();
    assert_eq!(urls, published.urls);
    let location = entry.location.expect("a release from a log has a location");
    assert_eq!(location.block_number, published.block);
    assert_eq!(location.tx_hash, published.tx);
}

pub fn find<'a>(entries: &'a [OutboxEntry], published: &Published) -> Vec<&'a OutboxEntry> {
    entries
        .iter()
        .filter(|e| e.key.operator_set == published.set && e.key.release_id == published.release_id)
        .collect()
}

pub fn pending(entries: &[OutboxEntry]) -> usize {
    entries.iter().filter(|e| e.status == ReleaseStatus::Pending).count()
}

pub fn chain(url: &str) -> Chain {
    Chain::new(url)
}
