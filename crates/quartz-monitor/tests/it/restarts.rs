//! The monitor process is killed with SIGKILL at random points of a backfill, 20 times, while
//! a consumer takes releases from the outbox: each release still arrives exactly once.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use quartz_monitor::{Completion, Outbox, OutboxKey, ReleaseStatus};
use quartz_store::Store;
use quartz_testkit::Anvil;
use tokio_util::sync::CancellationToken;

use crate::proxy::{Limits, Proxy};
use crate::scatter::scatter;
use crate::{chain, checkpoint_of, config, wait_until};

const KILLS: usize = 20;

/// A deterministic pseudo-random sequence (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_points_still_delivers_each_release_exactly_once() {
    // 20,000 empty blocks: prune history so that mining them takes seconds, not minutes.
    let anvil = Anvil::fork_with(&["--prune-history"]);
    let chain = chain(&anvil.endpoint());
    let scattered = scatter(&chain).await;
    // Slow responses stretch the backfill so that the kills land inside it.
    let proxy = Proxy::start(
        &anvil.endpoint(),
        Limits {
            max_range: Some(500),
            max_results: Some(20),
            delay: Duration::from_millis(15),
            ..Limits::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("quartz.toml");
    let cfg = config(&proxy.url(), scattered.start);
    std::fs::write(&config_path, format!("[monitor]\n{}", toml::to_string(&cfg).unwrap())).unwrap();
    let data_dir = dir.path().join("data");
    let store = Store::open_in(&data_dir).unwrap();

    // The factory's side: claim, "deploy", complete; count every delivery.
    let stop = CancellationToken::new();
    let consumer = tokio::spawn(consume(Outbox::new(store.clone()), stop.clone()));

    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_quartz-monitor"))
            .arg("--config")
            .arg(&config_path)
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut killed_mid_backfill = 0;
    for _ in 0..KILLS {
        let mut child = spawn();
        tokio::time::sleep(Duration::from_millis(150 + rng.next() % 600)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if checkpoint_of(&store).await < scattered.end {
            killed_mid_backfill += 1;
        }
    }
    let mut child = spawn();
    wait_until("the backfill to finish", || async {
        checkpoint_of(&store).await >= scattered.end
    })
    .await;
    let outbox = Outbox::new(store.clone());
    wait_until("the consumer to drain the outbox", || async {
        let entries = outbox.list(None, 10_000).await.unwrap();
        entries.len() >= scattered.releases.len() && entries.iter().all(|e| e.status == ReleaseStatus::Deployed)
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    stop.cancel();
    let deliveries = consumer.await.unwrap();

    assert!(
        killed_mid_backfill >= KILLS / 2,
        "only {killed_mid_backfill} kills landed inside the backfill"
    );
    let entries = outbox.list(None, 10_000).await.unwrap();
    assert_eq!(entries.len(), scattered.releases.len());
    for published in &scattered.releases {
        let key = OutboxKey {
            chain_id: 31337,
            operator_set: published.set,
            release_id: published.release_id,
        };
        assert_eq!(
            deliveries.get(&key),
            Some(&1),
            "release at block {} delivered {:?} times",
            published.block,
            deliveries.get(&key)
        );
        let entry = entries.iter().find(|e| e.key == key).unwrap();
        assert_eq!(entry.location.unwrap().block_number, published.block);
    }
    assert_eq!(deliveries.values().sum::<u32>() as usize, scattered.releases.len());
}

async fn consume(outbox: Outbox, stop: CancellationToken) -> HashMap<OutboxKey, u32> {
    let mut deliveries = HashMap::new();
    while !stop.is_cancelled() {
        match outbox.claim_next(Duration::from_secs(600)).await.unwrap() {
            Some(entry) => {
                *deliveries.entry(entry.key).or_insert(0) += 1;
                outbox.complete(entry.key, Completion::Deployed).await.unwrap();
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    deliveries
}
