use quartz_core::Sha256Digest;
use quartz_core::registry::ReleaseOutcome;
use quartz_factory::{ExecutionStatus, execution_id};

use crate::harness::{Env, failed_detail, release, release_of, set};

#[tokio::test]
async fn a_release_that_crashes_at_init_fails_its_smoke_check_and_live_stays() {
    let env = Env::start().await;
    let set = set(10);
    env.deploy(release(set, 1, &env.v1)).await;

    let bad = release(set, 2, &env.crash);
    let outcome = env.deploy(bad.clone()).await;
    let detail = failed_detail(&outcome);
    assert!(detail.starts_with("smoke-check: Smoke.Runtime.ExitError"), "{detail}");

    assert_eq!(env.live(set).await.as_deref(), Some("1"));
    assert_eq!(env.invoke_live(set).await["version"], "v1");
    let entry = env.store.get_performer(set).await.unwrap().unwrap();
    assert_eq!(entry.release_id, Some(1));
    let history = env.store.release_history(set, 10).await.unwrap();
    assert_eq!((history[0].release_id, history[0].outcome), (2, ReleaseOutcome::Failed));
    assert!(history[0].detail.as_deref().unwrap().contains("smoke-check"));

    let execution = env.factory.journal().get(&execution_id(&bad)).await.unwrap().unwrap();
    assert_eq!(execution.summary.status, ExecutionStatus::Failed);
    let error = execution.summary.error.unwrap();
    assert_eq!(
        (error.step.as_str(), error.error_type.as_str()),
        ("smoke-check", "Smoke.Runtime.ExitError")
    );
    let smoke = execution.steps.iter().find(|s| s.step == "smoke-check").unwrap();
    assert_eq!(smoke.status, "failed");
    // A crash is final: not retried.
    assert_eq!(smoke.attempts.len(), 1);
    assert_eq!(
        execution.steps.iter().find(|s| s.step == "promote").unwrap().status,
        "pending"
    );

    // A fixed release after the failed one deploys normally.
    env.deploy(release(set, 3, &env.v2)).await;
    assert_eq!(env.invoke_live(set).await["version"], "v2");
}

#[tokio::test]
async fn a_digest_that_does_not_exist_or_does_not_match_fails_with_a_clear_cause() {
    let env = Env::start().await;
    let set = set(11);
    env.deploy(release(set, 1, &env.v1)).await;

    // Nothing in the registry has this digest: retried (a push may be in flight), then final.
    let missing = Sha256Digest::from_bytes([7; 32]);
    let url = env.v1.repository.to_string();
    let outcome = env.deploy(release_of(set, 2, missing, &url)).await;
    let detail = failed_detail(&outcome);
    assert!(detail.starts_with("resolve: Image.Unavailable"), "{detail}");
    assert!(detail.contains(&missing.to_string()), "{detail}");
    let execution = env
        .factory
        .journal()
        .get(&execution_id(&release_of(set, 2, missing, &url)))
        .await
        .unwrap()
        .unwrap();
    let resolve = execution.steps.iter().find(|s| s.step == "resolve").unwrap();
    assert_eq!(resolve.attempts.len(), 4, "the workflow's retry policy for resolve");

    // The registry serves bytes that do not match the digest: final at once.
    let binary = std::fs::read(quartz_testkit::performer_binary()).unwrap();
    let image = quartz_oci::binary_image(&binary, &["PERFORMER_VERSION=tampered".into()]).unwrap();
    let target = format!("{}/tampered:1", env.registry.host());
    let tampered = quartz_oci::push(&image, &target, true).await.unwrap();
    let config_hex = quartz_oci::blobs::sha256(&image.config).hex();
    std::fs::write(env.registry.blob_path(&config_hex), b"{\"tampered\":true}").unwrap();
    let outcome = env.deploy(release(set, 3, &tampered)).await;
    let detail = failed_detail(&outcome);
    assert!(detail.starts_with("resolve: Image.DigestMismatch"), "{detail}");
    assert!(detail.contains("does not match"), "{detail}");

    // An artifact without a digest is refused by validate.
    let outcome = env
        .deploy(release_of(set, 4, Sha256Digest::from_bytes([0; 32]), &url))
        .await;
    assert!(failed_detail(&outcome).starts_with("validate: Release.NoUsableArtifact"));

    assert_eq!(env.live(set).await.as_deref(), Some("1"));
    assert_eq!(env.versions(set).await, vec!["1"]);
    let history = env.store.release_history(set, 10).await.unwrap();
    let failed: Vec<u64> = history
        .iter()
        .filter(|r| r.outcome == ReleaseOutcome::Failed)
        .map(|r| r.release_id)
        .collect();
    assert_eq!(failed, vec![4, 3, 2]);
}

#[tokio::test]
async fn a_release_older_than_live_is_refused() {
    let env = Env::start().await;
    let set = set(12);
    env.deploy(release(set, 5, &env.v2)).await;
    let outcome = env.deploy(release(set, 4, &env.v1)).await;
    let detail = failed_detail(&outcome);
    assert!(detail.starts_with("validate: Release.Downgrade"), "{detail}");
    assert!(detail.contains("older than release 5"), "{detail}");
    assert_eq!(env.live(set).await.as_deref(), Some("1"));
    assert_eq!(env.invoke_live(set).await["version"], "v2");
    assert_eq!(env.store.get_performer(set).await.unwrap().unwrap().release_id, Some(5));
}
