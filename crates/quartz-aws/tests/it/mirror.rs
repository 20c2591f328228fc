use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use quartz_aws::{Destination, ECR_REPOSITORY, Mirror, release_tag};
use quartz_core::{AvsAddress, OperatorSet, PinnedImage, Sha256Digest};
use quartz_oci::manifest::{ACCEPTED_MANIFESTS, OCI_INDEX, OCI_MANIFEST};
use quartz_oci::{BlobStore, BuiltImage, Puller, RegistryPolicy};
use quartz_testkit::{Moto, OciRegistry};
use sha2::{Digest, Sha256};

use crate::sdk;

fn client(host: &str) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![host.to_string()]),
        ..ClientConfig::default()
    })
}

fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::from_bytes(Sha256::digest(bytes).into())
}

/// A small image whose manifest is re-indented, so that any re-serialisation on the way would
/// change its digest.
fn image(marker: &str) -> (BuiltImage, Vec<u8>) {
    let built = quartz_oci::binary_image(format!("#!/bin/sh\necho {marker}\n").as_bytes(), &[]).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&built.manifest).unwrap();
    let mut manifest = serde_json::to_vec_pretty(&value).unwrap();
    manifest.extend_from_slice(b"\n\n");
    assert_ne!(sha256(&manifest), built.digest);
    (built, manifest)
}

async fn push_raw(
    registry: &OciRegistry,
    tag: &str,
    built: &BuiltImage,
    manifest: &[u8],
    media_type: &str,
) -> PinnedImage {
    let host = registry.host();
    let client = client(&host);
    let reference = Reference::with_tag(host.clone(), "source/performer".into(), tag.into());
    for blob in built.layers.iter().chain(std::iter::once(&built.config)) {
        client
            .push_blob(&reference, blob.clone(), &sha256(blob).to_string())
            .await
            .unwrap();
    }
    client
        .push_manifest_raw(
            &reference,
            manifest.to_vec(),
            http::HeaderValue::from_str(media_type).unwrap(),
        )
        .await
        .unwrap();
    format!("{host}/source/performer@{}", sha256(manifest)).parse().unwrap()
}

fn mirror_for(source: &OciRegistry, work: &tempfile::TempDir) -> Mirror {
    let policy = RegistryPolicy {
        allowed_registries: vec![source.host()],
        insecure_registries: vec![source.host()],
    };
    Mirror::new(Puller::new(policy, BlobStore::new(work.path().join("blobs")), 1 << 30))
}

async fn manifest_at(registry: &OciRegistry, reference: &str) -> (Vec<u8>, String) {
    let host = registry.host();
    let reference: Reference = format!("{host}/{ECR_REPOSITORY}{reference}").parse().unwrap();
    let (bytes, digest) = client(&host)
        .pull_manifest_raw(&reference, &RegistryAuth::Anonymous, ACCEPTED_MANIFESTS)
        .await
        .unwrap();
    (bytes.to_vec(), digest)
}

fn set() -> OperatorSet {
    OperatorSet::new(
        "0x8e14db002737f89745bc98f987caeb18d0d47635"
            .parse::<AvsAddress>()
            .unwrap(),
        3,
    )
}

#[tokio::test]
async fn the_mirror_copies_the_exact_manifest_and_keeps_the_digest() {
    let source = OciRegistry::start();
    let target = OciRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let (built, manifest) = image("one");
    let pinned = push_raw(&source, "v1", &built, &manifest, OCI_MANIFEST).await;
    let destination = Destination::anonymous(target.host(), ECR_REPOSITORY, true);
    let tag = release_tag(set(), 12);
    assert_eq!(tag, "avs-8e14db002737f89745bc98f987caeb18d0d47635-opset-3-r12");

    let mirrored = mirror_for(&source, &work)
        .mirror(&pinned, &destination, &tag)
        .await
        .unwrap();
    assert_eq!(mirrored.image.digest, pinned.digest);
    assert_eq!(
        mirrored.image.to_string(),
        format!("{}/{ECR_REPOSITORY}@{}", target.host(), pinned.digest)
    );
    let (by_tag, digest) = manifest_at(&target, &format!(":{tag}")).await;
    assert_eq!(by_tag, manifest, "manifest bytes identical");
    assert_eq!(digest, pinned.digest.to_string());
    let (by_digest, _) = manifest_at(&target, &format!("@{}", pinned.digest)).await;
    assert_eq!(by_digest, manifest);
    let host = target.host();
    let reference: Reference = format!("{host}/{ECR_REPOSITORY}:{tag}").parse().unwrap();
    for blob in built.layers.iter().chain(std::iter::once(&built.config)) {
        assert!(
            client(&host)
                .blob_exists(&reference, &sha256(blob).to_string())
                .await
                .unwrap()
        );
    }

    // Mirroring again (a retried step) and under another release's tag changes nothing.
    let again = mirror_for(&source, &work)
        .mirror(&pinned, &destination, &tag)
        .await
        .unwrap();
    assert_eq!(again, mirrored);
    let other_tag = release_tag(set(), 13);
    mirror_for(&source, &work)
        .mirror(&pinned, &destination, &other_tag)
        .await
        .unwrap();
    assert_eq!(manifest_at(&target, &format!(":{other_tag}")).await.0, manifest);
}

#[tokio::test]
async fn an_index_is_mirrored_as_its_linux_amd64_manifest() {
    let source = OciRegistry::start();
    let target = OciRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let (amd64, amd64_manifest) = image("amd64");
    let (arm64, arm64_manifest) = image("arm64");
    let amd64_pinned = push_raw(&source, "amd64", &amd64, &amd64_manifest, OCI_MANIFEST).await;
    let arm64_pinned = push_raw(&source, "arm64", &arm64, &arm64_manifest, OCI_MANIFEST).await;
    let entry = |pinned: &PinnedImage, size: usize, arch: &str| {
        serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": pinned.digest.to_string(), "size": size,
            "platform": {"architecture": arch, "os": "linux"}
        })
    };
    // arm64 first: the mirror must choose by platform, not by position.
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [entry(&arm64_pinned, arm64_manifest.len(), "arm64"), entry(&amd64_pinned, amd64_manifest.len(), "amd64")]
    }))
    .unwrap();
    let index_pinned = push_raw(&source, "multi", &amd64, &index, OCI_INDEX).await;

    let destination = Destination::anonymous(target.host(), ECR_REPOSITORY, true);
    let mirrored = mirror_for(&source, &work)
        .mirror(&index_pinned, &destination, "multi")
        .await
        .unwrap();
    assert_eq!(mirrored.image.digest, amd64_pinned.digest);
    let (bytes, digest) = manifest_at(&target, ":multi").await;
    assert_eq!(bytes, amd64_manifest);
    assert_eq!(digest, amd64_pinned.digest.to_string());
    let host = target.host();
    let reference: Reference = format!("{host}/{ECR_REPOSITORY}:multi").parse().unwrap();
    assert!(
        !client(&host)
            .blob_exists(&reference, &sha256(&arm64.layers[0]).to_string())
            .await
            .unwrap(),
        "the other platform's layers are not copied"
    );
}

#[tokio::test]
async fn a_digest_the_source_does_not_have_is_not_mirrored() {
    let source = OciRegistry::start();
    let target = OciRegistry::start();
    let work = tempfile::tempdir().unwrap();
    let (built, manifest) = image("liar");
    let pinned = push_raw(&source, "v1", &built, &manifest, OCI_MANIFEST).await;
    let mut wrong = pinned.clone();
    wrong.digest = sha256(b"something else");
    let destination = Destination::anonymous(target.host(), ECR_REPOSITORY, true);
    let error = mirror_for(&source, &work)
        .mirror(&wrong, &destination, "bad")
        .await
        .unwrap_err();
    assert!(matches!(error, quartz_aws::MirrorError::Source(_)), "{error:?}");
    let host = target.host();
    let reference: Reference = format!("{host}/{ECR_REPOSITORY}:bad").parse().unwrap();
    assert!(
        client(&host)
            .fetch_manifest_digest(&reference, &RegistryAuth::Anonymous)
            .await
            .is_err()
    );
}

/// moto's ECR answers the ECR API but not the registry protocol (no /v2/, and
/// InitiateLayerUpload is unimplemented), so pushes are tested against docker-registry above
/// and the ECR calls here.
#[tokio::test]
async fn ecr_destination_creates_the_repository_once_and_uses_its_token() {
    let sdk = sdk(Moto::shared()).await;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let repository = quartz_testkit::unique_name("quartz-performer");
    let first = Destination::ecr(&ecr, &repository).await.unwrap();
    let second = Destination::ecr(&ecr, &repository).await.unwrap();
    assert_eq!(first.registry, "123456789012.dkr.ecr.us-east-1.amazonaws.com");
    assert_eq!(first.repository, repository);
    assert_eq!(first.user(), Some("AWS"));
    assert_eq!(second.registry, first.registry);
    let described = ecr
        .describe_repositories()
        .repository_names(&repository)
        .send()
        .await
        .unwrap();
    let repo = &described.repositories()[0];
    assert_eq!(repo.repository_name(), Some(repository.as_str()));
    assert_eq!(
        repo.image_scanning_configuration().map(|c| c.scan_on_push()),
        Some(true)
    );
}
