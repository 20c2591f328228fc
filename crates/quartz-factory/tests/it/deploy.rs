use quartz_core::FunctionName;
use quartz_core::registry::ReleaseOutcome;
use quartz_factory::{ExecutionOutcome, ExecutionStatus, execution_id};

use crate::harness::{AVS, Env, release, set};

#[tokio::test]
async fn release_1_deploys_then_release_2_flips_live() {
    let env = Env::start().await;
    let set = set(0);
    let name = FunctionName::for_operator_set(&set);

    let r1 = release(set, 1, &env.v1);
    let outcome = env.deploy(r1.clone()).await;
    assert_eq!(
        outcome,
        ExecutionOutcome::Succeeded {
            execution: execution_id(&r1)
        }
    );
    assert_eq!(env.live(set).await.as_deref(), Some("1"));
    assert_eq!(env.invoke_live(set).await["version"], "v1");

    // Pinned to the digest, with the configured settings, env and tags.
    let function = env
        .lambda
        .get_function()
        .function_name(name.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(function.code().unwrap().image_uri(), Some(env.v1.to_string().as_str()));
    let config = function.configuration().unwrap();
    assert_eq!((config.timeout(), config.memory_size()), (Some(30), Some(256)));
    let vars = config.environment().unwrap().variables().unwrap();
    assert_eq!(vars["AVS_ADDRESS"], AVS);
    assert_eq!(vars["OPERATOR_SET_ID"], "0");
    assert_eq!(vars["RELEASE_ID"], "1");
    let tags = function.tags().unwrap();
    assert_eq!(tags["avs-address"], AVS);
    assert_eq!(tags["operator-set-id"], "0");
    assert_eq!(tags["release-id"], "1");
    assert_eq!(tags["managed-by"], "quartz");

    let entry = env.store.get_performer(set).await.unwrap().unwrap();
    assert_eq!(entry.release_id, Some(1));
    assert_eq!(entry.function_version.as_deref(), Some("1"));
    assert_eq!(entry.artifact_digest, Some(env.v1.digest));

    let r2 = release(set, 2, &env.v2);
    assert!(matches!(
        env.deploy(r2.clone()).await,
        ExecutionOutcome::Succeeded { .. }
    ));
    assert_eq!(env.live(set).await.as_deref(), Some("2"));
    assert_eq!(env.invoke_live(set).await["version"], "v2");
    let entry = env.store.get_performer(set).await.unwrap().unwrap();
    assert_eq!(
        (entry.release_id, entry.function_version.as_deref()),
        (Some(2), Some("2"))
    );
    let history = env.store.release_history(set, 10).await.unwrap();
    let lines: Vec<(u64, ReleaseOutcome)> = history.iter().map(|r| (r.release_id, r.outcome)).collect();
    assert_eq!(
        lines,
        vec![(2, ReleaseOutcome::Deployed), (1, ReleaseOutcome::Deployed)]
    );
    assert_eq!(env.versions(set).await, vec!["1", "2"]);

    // The journal shows every step with its attempts and timings.
    let detail = env.factory.journal().get(&execution_id(&r2)).await.unwrap().unwrap();
    assert_eq!(detail.summary.status, ExecutionStatus::Succeeded);
    assert_eq!(detail.steps.len(), 8);
    for step in &detail.steps {
        assert_eq!(step.status, "succeeded", "{step:?}");
        assert_eq!(step.attempts.len(), 1, "{step:?}");
        assert!(step.attempts[0].duration_ms.is_some());
    }
    assert_eq!(detail.context["version"], "2");
}

#[tokio::test]
async fn the_same_release_delivered_twice_runs_once() {
    let env = Env::start().await;
    let set = set(1);
    let r1 = release(set, 1, &env.v1);
    let first = env.deploy(r1.clone()).await;
    let attempts = |d: &quartz_factory::ExecutionDetail| d.steps.iter().map(|s| s.attempts.len()).sum::<usize>();
    let before = env.factory.journal().get(&execution_id(&r1)).await.unwrap().unwrap();
    let second = env.deploy(r1.clone()).await;
    assert_eq!(first, second);
    let after = env.factory.journal().get(&execution_id(&r1)).await.unwrap().unwrap();
    assert_eq!(attempts(&before), attempts(&after));
    assert_eq!(env.versions(set).await, vec!["1"]);
    assert_eq!(env.store.release_history(set, 10).await.unwrap().len(), 1);
    let listed = env.factory.journal().list(None, Some(set), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn rollback_moves_live_back_and_is_recorded() {
    let env = Env::start().await;
    let set = set(2);
    env.deploy(release(set, 1, &env.v1)).await;
    env.deploy(release(set, 2, &env.v2)).await;
    assert_eq!(env.invoke_live(set).await["version"], "v2");

    let done = quartz_factory::rollback(&env.store, &env.lambda, set, None)
        .await
        .unwrap();
    assert_eq!((done.from_release, done.to_release), (Some(2), 1));
    assert_eq!(done.to_version, "1");
    assert_eq!(env.live(set).await.as_deref(), Some("1"));
    assert_eq!(env.invoke_live(set).await["version"], "v1");
    let entry = env.store.get_performer(set).await.unwrap().unwrap();
    assert_eq!(
        (entry.release_id, entry.function_version.as_deref()),
        (Some(1), Some("1"))
    );
    let history = env.store.release_history(set, 10).await.unwrap();
    assert_eq!(
        (history[0].release_id, history[0].outcome),
        (1, ReleaseOutcome::RolledBack)
    );

    // Forward again by release number; an unknown release is refused with a reason.
    let forward = quartz_factory::rollback(&env.store, &env.lambda, set, Some(2))
        .await
        .unwrap();
    assert_eq!(forward.to_version, "2");
    let error = quartz_factory::rollback(&env.store, &env.lambda, set, Some(7))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("release 7"), "{error}");
}
