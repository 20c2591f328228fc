//! The factory's own Lambda calls (CreateFunction with PackageType Image and the one performer
//! role, UpdateFunctionCode, PublishVersion, GetAlias/CreateAlias/UpdateAlias, Invoke for the
//! smoke check) against moto's Lambda, with images mirrored by [`MirrorAvailability`] and the
//! registry entries in DynamoDB.

use std::sync::Arc;

use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use quartz_aws::{
    AwsConfig, Destination, DynamoRegistry, ECR_REPOSITORY, MirrorAvailability, RegistryTables, release_tag,
};
use quartz_core::{Artifact, AvsAddress, FunctionName, OperatorSet, PinnedImage, Release};
use quartz_factory::{ExecutionOutcome, Factory, FactoryConfig, FactoryDeps};
use quartz_oci::{BlobStore, Puller};
use quartz_store::Store;
use quartz_testkit::{MOTO_ROLE_ARN, Moto, OciRegistry};
use tokio_util::sync::CancellationToken;

fn lambda(moto: &Moto) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(moto.endpoint())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

async fn push(registry: &OciRegistry, tag: &str) -> PinnedImage {
    let image = quartz_oci::binary_image(format!("#!/bin/sh\necho {tag}\n").as_bytes(), &[]).unwrap();
    quartz_oci::push(&image, &format!("{}/performer:{tag}", registry.host()), true)
        .await
        .unwrap()
}

fn release(set: OperatorSet, release_id: u64, image: &PinnedImage) -> Release {
    Release {
        operator_set: set,
        release_id,
        artifacts: vec![Artifact {
            digest: image.digest,
            registry_url: image.repository.to_string(),
        }],
        upgrade_by_time: 0,
    }
}

#[tokio::test]
async fn the_factory_deploys_and_upgrades_a_function_on_lambda() {
    // Its own moto: the Lambda backend without docker is moto-wide.
    let moto = Moto::start();
    moto.without_docker();
    let source = OciRegistry::start();
    let ecr = OciRegistry::start();
    let v1 = push(&source, "v1").await;
    let v2 = push(&source, "v2").await;
    let data = tempfile::tempdir().unwrap();
    let store = Store::open_in(data.path()).unwrap();
    let client = lambda(&moto);

    let mut config = FactoryConfig::default();
    config.registries.allowed_registries = vec![source.host()];
    config.registries.insecure_registries = vec![source.host()];
    config.function.role_arn = MOTO_ROLE_ARN.to_string();
    config.function.timeout_secs = 30;
    config.function.memory_mb = 512;
    config.retry_interval_ms = Some(20);
    config.retry_max_delay_ms = Some(100);
    let work_dir = data.path().join("factory");
    // The mirror reads the blobs resolve verified, from the factory's own blob store.
    let puller = Puller::new(
        config.registries.clone(),
        BlobStore::new(work_dir.join("blobs")),
        1 << 30,
    );
    let availability = MirrorAvailability::registry(puller, Destination::anonymous(ecr.host(), ECR_REPOSITORY, true));
    let dynamo = DynamoRegistry::new(
        &AwsConfig::local(moto.endpoint()).load().await,
        RegistryTables::default(),
    );
    dynamo.create_tables().await.unwrap();
    let factory = Factory::with_performers(
        config,
        FactoryDeps {
            store: store.clone(),
            lambda: client.clone(),
            availability: Arc::new(availability),
            work_dir,
        },
        Arc::new(dynamo.clone()),
    )
    .unwrap();
    let set = OperatorSet::new(
        "0x8e14db002737f89745bc98f987caeb18d0d47635"
            .parse::<AvsAddress>()
            .unwrap(),
        1,
    );
    let name = FunctionName::for_operator_set(&set);

    for (release_id, image, version) in [(1, &v1, "1"), (2, &v2, "2")] {
        let outcome = factory
            .deploy(31337, release(set, release_id, image), &CancellationToken::new())
            .await
            .unwrap();
        assert!(matches!(outcome, ExecutionOutcome::Succeeded { .. }), "{outcome:?}");

        let function = client.get_function().function_name(name.as_str()).send().await.unwrap();
        let config = function.configuration().unwrap();
        assert_eq!(config.role(), Some(MOTO_ROLE_ARN));
        assert_eq!(config.package_type().map(|p| p.as_str()), Some("Image"));
        assert_eq!(config.memory_size(), Some(512));
        // Deployed from the mirror, pinned to the digest the release published.
        let expected_uri = format!("{}/{ECR_REPOSITORY}@{}", ecr.host(), image.digest);
        assert_eq!(function.code().and_then(|c| c.image_uri()), Some(expected_uri.as_str()));
        assert_eq!(
            function.tags().and_then(|t| t.get("managed-by")).map(String::as_str),
            Some("quartz")
        );

        let live = client
            .get_alias()
            .function_name(name.as_str())
            .name("live")
            .send()
            .await
            .unwrap();
        assert_eq!(live.function_version(), Some(version));
        let published = client
            .get_function_configuration()
            .function_name(name.as_str())
            .qualifier(version)
            .send()
            .await
            .unwrap();
        assert_eq!(
            published.code_sha256(),
            config.code_sha256(),
            "the version holds the deployed code"
        );

        let entry = dynamo.get_performer(set).await.unwrap().unwrap();
        assert_eq!(
            store.get_performer(set).await.unwrap(),
            None,
            "the registry is DynamoDB"
        );
        assert_eq!(entry.release_id, Some(release_id));
        assert_eq!(entry.function_version.as_deref(), Some(version));
        assert_eq!(entry.function_arn.as_deref(), config.function_arn());
        assert_eq!(entry.artifact_digest, Some(image.digest));

        // The mirror carries a tag per release.
        let tagged = format!("{}/{ECR_REPOSITORY}:{}", ecr.host(), release_tag(set, release_id));
        let digest = oci_client::Client::new(oci_client::client::ClientConfig {
            protocol: oci_client::client::ClientProtocol::HttpsExcept(vec![ecr.host()]),
            ..Default::default()
        })
        .fetch_manifest_digest(&tagged.parse().unwrap(), &oci_client::secrets::RegistryAuth::Anonymous)
        .await
        .unwrap();
        assert_eq!(digest, image.digest.to_string());
    }

    // Delivering release 2 again finds its execution done and changes nothing.
    factory
        .deploy(31337, release(set, 2, &v2), &CancellationToken::new())
        .await
        .unwrap();
    let versions = client
        .list_versions_by_function()
        .function_name(name.as_str())
        .send()
        .await
        .unwrap();
    let published: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version())
        .filter(|v| *v != "$LATEST")
        .collect();
    assert_eq!(published, vec!["1", "2"]);
}
