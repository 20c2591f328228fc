//! The factory-step handler driven as Step Functions drives it: `{"step", "context"}` in,
//! `{"context"}` out, state after state, on moto's DynamoDB and Lambda, with images mirrored
//! into a local registry standing in for ECR (moto's ECR does not serve the registry protocol).

use std::sync::Arc;

use lambda_runtime::Diagnostic;
use quartz_aws::{Destination, DynamoRegistry, ECR_REPOSITORY, MirrorAvailability, RegistryTables};
use quartz_core::registry::ReleaseOutcome;
use quartz_core::{Artifact, AvsAddress, FunctionName, OperatorSet, PinnedImage, Release};
use quartz_factory::workflow::WORKFLOW;
use quartz_factory::{Context, FactoryConfig, StepRunner};
use quartz_lambda_handlers::{FactoryStepHandler, HandlerError, INVALID_INPUT};
use quartz_oci::{BlobStore, Puller};
use quartz_testkit::{MOTO_ROLE_ARN, Moto, OciRegistry};
use serde_json::{Value, json};

use crate::sdk;
use quartz_testkit::unique_name;

async fn push(registry: &OciRegistry, tag: &str) -> PinnedImage {
    let image = quartz_oci::binary_image(format!("#!/bin/sh\necho {tag}\n").as_bytes(), &[]).unwrap();
    quartz_oci::push(&image, &format!("{}/performer:{tag}", registry.host()), true)
        .await
        .unwrap()
}

fn release(set: OperatorSet, release_id: u64, registry_url: String, image: &PinnedImage) -> Release {
    Release {
        operator_set: set,
        release_id,
        artifacts: vec![Artifact {
            digest: image.digest,
            registry_url,
        }],
        upgrade_by_time: 0,
    }
}

struct Setup {
    handler: FactoryStepHandler,
    dynamo: DynamoRegistry,
    lambda: aws_sdk_lambda::Client,
    _dir: tempfile::TempDir,
}

async fn setup(moto: &Moto, source: &OciRegistry, ecr: &OciRegistry) -> Setup {
    let sdk = sdk(moto).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = FactoryConfig::default();
    // 127.0.0.1:1 is allowed too, for the unreachable-registry case.
    config.registries.allowed_registries = vec![source.host(), "127.0.0.1:1".into()];
    config.registries.insecure_registries = vec![source.host(), "127.0.0.1:1".into()];
    config.function.role_arn = MOTO_ROLE_ARN.to_string();
    config.function.timeout_secs = 30;
    config.function.memory_mb = 512;
    let work_dir = dir.path().join("factory");
    let puller = Puller::new(
        config.registries.clone(),
        BlobStore::new(work_dir.join("blobs")),
        1 << 30,
    );
    let availability = MirrorAvailability::registry(puller, Destination::anonymous(ecr.host(), ECR_REPOSITORY, true));
    let dynamo = DynamoRegistry::new(
        &sdk,
        RegistryTables {
            performers: unique_name("step-performers"),
            history: unique_name("step-history"),
        },
    );
    dynamo.create_tables().await.unwrap();
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let runner = StepRunner::new(
        config,
        lambda.clone(),
        Arc::new(dynamo.clone()),
        Arc::new(availability),
        work_dir,
    )
    .unwrap();
    Setup {
        handler: FactoryStepHandler::new(runner),
        dynamo,
        lambda,
        _dir: dir,
    }
}

/// One state as Step Functions runs it: the payload crosses as JSON text both ways.
async fn invoke(handler: &FactoryStepHandler, payload: Value) -> Result<Value, Diagnostic> {
    let event: Value = serde_json::from_str(&payload.to_string()).unwrap();
    match handler.handle(event).await {
        Ok(out) => Ok(serde_json::from_str(&out.to_string()).unwrap()),
        Err(error) => Err(Diagnostic::from(error)),
    }
}

/// Every state of the workflow in order, as the state machine chains them.
async fn run_workflow(handler: &FactoryStepHandler, context: Context) -> Value {
    let mut context = serde_json::to_value(context).unwrap();
    for spec in WORKFLOW.steps {
        let out = invoke(handler, json!({"step": spec.id.as_str(), "context": context}))
            .await
            .unwrap_or_else(|d| panic!("{}: {}: {}", spec.id.as_str(), d.error_type, d.error_message));
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["context"], "the handler answers {{\"context\"}} only");
        context = out["context"].clone();
    }
    context
}

#[tokio::test]
async fn a_release_goes_through_every_step_and_ends_live_in_dynamodb_and_lambda() {
    let moto = Moto::start();
    moto.without_docker();
    let source = OciRegistry::start();
    let ecr = OciRegistry::start();
    let v1 = push(&source, "v1").await;
    let v2 = push(&source, "v2").await;
    let s = setup(&moto, &source, &ecr).await;
    let set = OperatorSet::new(
        "0x00000000000000000000000000000000000000f1"
            .parse::<AvsAddress>()
            .unwrap(),
        4,
    );
    let name = FunctionName::for_operator_set(&set);

    for (release_id, image, version) in [(1, &v1, "1"), (2, &v2, "2")] {
        let url = image.repository.to_string();
        let context = run_workflow(&s.handler, Context::new(31337, release(set, release_id, url, image))).await;
        assert_eq!(context["version"], version);

        let entry = s.dynamo.get_performer(set).await.unwrap().unwrap();
        assert_eq!(entry.release_id, Some(release_id));
        assert_eq!(entry.function_version.as_deref(), Some(version));
        assert_eq!(entry.artifact_digest, Some(image.digest));
        let function = s
            .lambda
            .get_function()
            .function_name(name.as_str())
            .send()
            .await
            .unwrap();
        let config = function.configuration().unwrap();
        assert_eq!(entry.function_arn.as_deref(), config.function_arn());
        assert_eq!(config.role(), Some(MOTO_ROLE_ARN));
        // Deployed from the mirror, pinned to the digest the release published.
        let mirrored = format!("{}/{ECR_REPOSITORY}@{}", ecr.host(), image.digest);
        assert_eq!(function.code().and_then(|c| c.image_uri()), Some(mirrored.as_str()));
        let live = s
            .lambda
            .get_alias()
            .function_name(name.as_str())
            .name("live")
            .send()
            .await
            .unwrap();
        assert_eq!(live.function_version(), Some(version));
    }
    let history = s.dynamo.release_history(set, 10).await.unwrap();
    let deployed: Vec<u64> = history
        .iter()
        .filter(|r| r.outcome == ReleaseOutcome::Deployed)
        .map(|r| r.release_id)
        .collect();
    assert_eq!(deployed, vec![2, 1], "newest first");

    // Release 1 again: validate refuses it for good (not retried), naming the step and why.
    let again = Context::new(31337, release(set, 1, v1.repository.to_string(), &v1));
    let error = invoke(&s.handler, json!({"step": "validate", "context": again}))
        .await
        .unwrap_err();
    assert_eq!(error.error_type, "Quartz.Final");
    assert!(
        error.error_message.starts_with("validate: Release.Downgrade: "),
        "{}",
        error.error_message
    );

    // The failure state records the Catch's error once, however often Step Functions retries it.
    let caught = json!({"Error": error.error_type, "Cause": json!({"errorType": error.error_type, "errorMessage": error.error_message}).to_string()});
    for _ in 0..2 {
        let out = invoke(
            &s.handler,
            json!({"step": WORKFLOW.on_failure, "context": again, "error": caught}),
        )
        .await
        .unwrap();
        assert_eq!(out["context"]["release"]["releaseId"], 1);
    }
    let failed: Vec<_> = s
        .dynamo
        .release_history(set, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.outcome == ReleaseOutcome::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail.as_deref(), Some(error.error_message.as_str()));
    // live did not move.
    assert_eq!(s.dynamo.get_performer(set).await.unwrap().unwrap().release_id, Some(2));
}

#[tokio::test]
async fn an_unreachable_registry_is_retryable_and_bad_input_is_not() {
    let moto = Moto::shared();
    let source = OciRegistry::start();
    let ecr = OciRegistry::start();
    let image = push(&source, "r").await;
    let s = setup(moto, &source, &ecr).await;
    let set = OperatorSet::new(
        "0x00000000000000000000000000000000000000f2"
            .parse::<AvsAddress>()
            .unwrap(),
        1,
    );

    // Nothing listens on 127.0.0.1:1: resolve fails in a way another attempt may fix.
    let context = Context::new(31337, release(set, 1, "127.0.0.1:1/performer".into(), &image));
    let validated = invoke(&s.handler, json!({"step": "validate", "context": context}))
        .await
        .unwrap();
    let error = invoke(&s.handler, json!({"step": "resolve", "context": validated["context"]}))
        .await
        .unwrap_err();
    assert_eq!(error.error_type, "Quartz.Retryable", "{}", error.error_message);
    assert!(
        error.error_message.starts_with("resolve: Image.Unavailable: "),
        "{}",
        error.error_message
    );

    let unknown = invoke(&s.handler, json!({"step": "deploy-everything", "context": context}))
        .await
        .unwrap_err();
    assert_eq!(unknown.error_type, INVALID_INPUT);
    assert!(
        unknown.error_message.contains("\"deploy-everything\""),
        "{}",
        unknown.error_message
    );
    assert!(
        unknown.error_message.contains("make-available"),
        "lists the steps: {}",
        unknown.error_message
    );

    let malformed = invoke(&s.handler, json!({"step": "validate", "context": {"chainId": "one"}}))
        .await
        .unwrap_err();
    assert_eq!(malformed.error_type, INVALID_INPUT);
    assert!(
        malformed.error_message.contains("context"),
        "{}",
        malformed.error_message
    );

    let not_an_event = invoke(&s.handler, json!([1, 2])).await.unwrap_err();
    assert_eq!(not_an_event.error_type, INVALID_INPUT);

    // A step that needs an earlier step's output says so and is not retried.
    let skipped = invoke(&s.handler, json!({"step": "publish", "context": context}))
        .await
        .unwrap_err();
    assert_eq!(skipped.error_type, "Quartz.Final");
    assert!(
        skipped.error_message.contains("Factory.MissingContext"),
        "{}",
        skipped.error_message
    );
    assert!(matches!(
        s.handler.handle(json!({"step": "x", "context": context})).await,
        Err(HandlerError::InvalidInput(_))
    ));
}
