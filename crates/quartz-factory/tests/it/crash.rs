use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quartz_core::registry::ReleaseOutcome;
use quartz_factory::workflow::StepId;
use quartz_factory::{ExecutionStatus, FactoryConfig, execution_id};
use quartz_monitor::{Outbox, OutboxKey, ReleaseStatus};

use crate::harness::{CHAIN, Env, release, set};
use crate::ordering::enqueue;

const PAUSE_MS: u64 = 300;

#[derive(serde::Serialize)]
struct File {
    factory: FactoryConfig,
}

fn spawn(env: &Env, config: &std::path::Path, n: usize) -> Child {
    let log = std::fs::File::create(env.data.path().join(format!("factory-{n}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_quartz-factory"))
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(env.data.path())
        .arg("--lambda-endpoint")
        .arg(env.runtime.endpoint())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Kills the factory process twice during every step of each release (once early in the step,
/// once late, after its side effects and before the journal records them), restarts it, and
/// checks that each release deployed exactly once with one version per image.
#[tokio::test]
async fn kill_9_during_each_step_then_restart_deploys_each_release_exactly_once() {
    let env = Env::start().await;
    let s = set(40);
    let mut config = env.config.clone();
    config.claim_lease_secs = 1;
    config.crash_test_pause_ms = Some(PAUSE_MS);
    let config_path = env.data.path().join("quartz.toml");
    std::fs::write(&config_path, toml::to_string(&File { factory: config }).unwrap()).unwrap();
    let journal = env.factory.journal().clone();
    let outbox = Outbox::new(env.store.clone());
    let mut spawned = 0;

    for (release_id, image, version) in [(1, &env.v1, "v1"), (2, &env.v2, "v2")] {
        let r = release(s, release_id, image);
        let id = execution_id(&r);
        enqueue(&env.store, &r).await;
        for step in StepId::ALL {
            for late in [false, true] {
                let before = journal.get(&id).await.unwrap().map_or(0, |d| {
                    d.steps.iter().find(|v| v.step == step.as_str()).unwrap().attempts.len()
                });
                spawned += 1;
                let mut child = spawn(&env, &config_path, spawned);
                wait_for(&format!("{} to start", step.as_str()), || async {
                    journal.get(&id).await.unwrap().is_some_and(|d| {
                        let view = d.steps.iter().find(|v| v.step == step.as_str()).unwrap();
                        view.attempts.len() > before && view.attempts.last().unwrap().outcome == "running"
                    })
                })
                .await;
                let delay = if late { PAUSE_MS + 100 } else { 100 };
                tokio::time::sleep(Duration::from_millis(delay)).await;
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
            }
        }
        spawned += 1;
        let mut child = spawn(&env, &config_path, spawned);
        let key = OutboxKey {
            chain_id: CHAIN,
            operator_set: s,
            release_id,
        };
        wait_for("the release to deploy", || async {
            outbox.get(key).await.unwrap().unwrap().status == ReleaseStatus::Deployed
        })
        .await;
        child.kill().unwrap();
        child.wait().unwrap();

        let detail = journal.get(&id).await.unwrap().unwrap();
        assert_eq!(detail.summary.status, ExecutionStatus::Succeeded);
        for view in &detail.steps {
            let outcomes: Vec<&str> = view.attempts.iter().map(|a| a.outcome.as_str()).collect();
            assert_eq!(outcomes.iter().filter(|o| **o == "succeeded").count(), 1, "{view:?}");
            assert_eq!(outcomes.iter().filter(|o| **o == "interrupted").count(), 2, "{view:?}");
        }
        let expected: Vec<String> = (1..=release_id).map(|v| v.to_string()).collect();
        assert_eq!(env.versions(s).await, expected, "one version per deployed image");
        assert_eq!(env.live(s).await, Some(release_id.to_string()));
        assert_eq!(env.invoke_live(s).await["version"], version);
        let history = env.store.release_history(s, 50).await.unwrap();
        let deployed = history
            .iter()
            .filter(|h| h.release_id == release_id && h.outcome == ReleaseOutcome::Deployed)
            .count();
        assert_eq!(deployed, 1);
    }
}

/// A deployment that outlasts its claim lease keeps the release: the running factory renews
/// the lease, so a second factory on the same store never claims it and no step runs twice.
#[tokio::test]
async fn a_deployment_longer_than_the_lease_is_not_taken_over_by_another_factory() {
    let env = Env::start().await;
    let s = set(41);
    let mut config = env.config.clone();
    config.claim_lease_secs = 1;
    // Eight steps, each paused twice: about 5 s, five leases.
    config.crash_test_pause_ms = Some(PAUSE_MS);
    let r = release(s, 1, &env.v1);
    let id = execution_id(&r);
    enqueue(&env.store, &r).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let first = tokio::spawn(quartz_factory::run(config.clone(), env.deps(), shutdown.clone()));
    // The second factory starts once the first holds the release.
    let journal = env.factory.journal().clone();
    wait_for("the first factory to start", || async {
        journal.get(&id).await.unwrap().is_some()
    })
    .await;
    let second = tokio::spawn(quartz_factory::run(config, env.deps(), shutdown.clone()));
    let outbox = Outbox::new(env.store.clone());
    let key = OutboxKey {
        chain_id: CHAIN,
        operator_set: s,
        release_id: 1,
    };
    wait_for("the release to deploy", || async {
        outbox.get(key).await.unwrap().unwrap().status == ReleaseStatus::Deployed
    })
    .await;
    shutdown.cancel();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();

    let entry = outbox.get(key).await.unwrap().unwrap();
    assert_eq!(entry.attempts, 1, "claimed once: {entry:?}");
    let detail = journal.get(&id).await.unwrap().unwrap();
    assert_eq!(detail.summary.status, ExecutionStatus::Succeeded);
    for step in &detail.steps {
        assert_eq!(step.attempts.len(), 1, "{} ran more than once: {detail:?}", step.step);
    }
    assert_eq!(env.versions(s).await, vec!["1".to_string()]);
}
