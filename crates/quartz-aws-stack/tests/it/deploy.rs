//! `deploy` against moto's S3 and CloudFormation: what moto accepts of the template, the code
//! zip in S3, and an update that changes only what changed.

use std::time::Duration;

use aws_sdk_cloudformation::types::StackResourceSummary;
use quartz_aws::{AwsConfig, DynamoRegistry, RegistryTables};
use quartz_aws_stack::deploy::{self, Clients, DeployRequest};
use quartz_aws_stack::template::SynthConfig;
use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome};
use quartz_core::{AvsAddress, FunctionName, OperatorSet};
use quartz_store::WriteCondition;
use quartz_testkit::Moto;

fn synth() -> SynthConfig {
    SynthConfig::parse(
        "0x59c8D715DCa616e032B744a753C017c9f3E16bf4",
        "https://rpc.example",
        None,
    )
    .unwrap()
}

/// Any ELF does: moto stores the code and never runs it here.
fn binary() -> Vec<u8> {
    std::fs::read("/bin/true").unwrap()
}

fn request<'a>(synth: &'a SynthConfig, bootstrap: &'a [u8]) -> DeployRequest<'a> {
    DeployRequest {
        stack_name: "QuartzStack",
        bucket: "quartz-code",
        synth,
        bootstrap,
        bootstrap_path: "/bin/true",
        wait: Duration::from_secs(120),
    }
}

#[tokio::test]
async fn deploy_creates_the_stack_on_moto_then_updates_only_on_change() {
    // Its own moto: a stack's functions and roles would collide with other tests' names.
    let moto = Moto::start();
    let clients = Clients::new("us-east-1", Some(&moto.endpoint())).await;
    let synth = synth();
    let first = binary();
    let created = deploy::deploy(&clients, &request(&synth, &first))
        .await
        .expect("moto creates the stack");
    assert_eq!(created.status, "CREATE_COMPLETE");
    assert!(created.changed);

    // The code is in S3 under its hash, as a zip holding `bootstrap`.
    let object = clients
        .s3
        .get_object()
        .bucket("quartz-code")
        .key(&created.code_key)
        .send()
        .await
        .unwrap();
    let zip = object.body.collect().await.unwrap().into_bytes();
    assert!(zip.starts_with(b"PK\x03\x04"));
    assert!(zip.windows(9).any(|w| w == b"bootstrap"));

    // What moto made of the template, reported for the record.
    let resources: Vec<StackResourceSummary> = clients
        .cloudformation
        .list_stack_resources()
        .stack_name("QuartzStack")
        .send()
        .await
        .unwrap()
        .stack_resource_summaries
        .unwrap_or_default();
    for r in &resources {
        eprintln!(
            "moto: {} {} {}",
            r.logical_resource_id().unwrap_or(""),
            r.resource_type().unwrap_or(""),
            r.resource_status().map(|s| s.as_str()).unwrap_or("")
        );
    }
    let types: Vec<&str> = resources.iter().filter_map(|r| r.resource_type()).collect();
    for expected in [
        "AWS::DynamoDB::Table",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::Rule",
    ] {
        assert!(types.contains(&expected), "moto created no {expected}: {types:?}");
    }
    for (key, value) in &created.outputs {
        eprintln!("output {key} = {value}");
    }

    // The stack's tables are the ones quartz-aws's registry writes: a round trip through them.
    let registry = DynamoRegistry::new(
        &AwsConfig::local(moto.endpoint()).load().await,
        RegistryTables::default(),
    );
    let set = OperatorSet::new(
        "0x59c8D715DCa616e032B744a753C017c9f3E16bf4"
            .parse::<AvsAddress>()
            .unwrap(),
        3,
    );
    let update = PerformerUpdate {
        function_name: FunctionName::for_operator_set(&set),
        function_arn: None,
        release_id: Some(1),
        function_version: Some("1".into()),
        image_uri: None,
        artifact_digest: None,
        status: PerformerStatus::Active,
    };
    let (written, _) = registry
        .put_performer(set, update, WriteCondition::None, ReleaseOutcome::Deployed)
        .await
        .expect("the stack's registry table takes quartz-aws's writes");
    assert_eq!(registry.get_performer(set).await.unwrap(), Some(written));

    // The same build again: nothing to update.
    let again = deploy::deploy(&clients, &request(&synth, &first)).await.unwrap();
    assert!(!again.changed, "{again:?}");
    assert_eq!(again.code_key, created.code_key);

    // A new build: a new key, and the stack updates.
    let mut changed = first.to_vec();
    changed.extend_from_slice(b"\0new build");
    let updated = deploy::deploy(&clients, &request(&synth, &changed)).await.unwrap();
    assert!(updated.changed);
    assert_ne!(updated.code_key, created.code_key);
    assert_eq!(updated.status, "UPDATE_COMPLETE");
}

#[tokio::test]
async fn a_binary_that_is_not_elf_is_refused_before_anything_is_uploaded() {
    let moto = Moto::shared();
    let clients = Clients::new("us-east-1", Some(&moto.endpoint())).await;
    let synth = synth();
    let err = deploy::deploy(
        &clients,
        &DeployRequest {
            stack_name: "NotDeployed",
            bucket: "quartz-not-created",
            synth: &synth,
            bootstrap: b"#!/bin/sh\necho hi\n",
            bootstrap_path: "handler.sh",
            wait: Duration::from_secs(10),
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().starts_with("--bootstrap handler.sh"), "{err}");
    assert!(
        clients
            .s3
            .head_bucket()
            .bucket("quartz-not-created")
            .send()
            .await
            .is_err()
    );
}
