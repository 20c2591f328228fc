use quartz_core::PinnedImage;
use quartz_oci::{ImageStore, Limits, OciError, RegistryPolicy, binary_image, push};
use quartz_testkit::OciRegistry;

const FAKE_BINARY: &[u8] = b"#!/bin/sh\necho not really a binary\n";

fn trusting(registry: &OciRegistry) -> RegistryPolicy {
    RegistryPolicy {
        allowed_registries: vec![registry.host()],
        insecure_registries: vec![registry.host()],
    }
}

#[tokio::test]
async fn a_pushed_image_pulls_by_digest_and_unpacks() {
    let registry = OciRegistry::start();
    let image = binary_image(FAKE_BINARY, &["GREETING=hi".into()]).unwrap();
    let pinned = push(&image, &format!("{}/perf:v1", registry.host()), true)
        .await
        .unwrap();
    assert_eq!(pinned.digest, image.digest);
    let again = binary_image(FAKE_BINARY, &["GREETING=hi".into()]).unwrap();
    assert_eq!(again.digest, image.digest, "building is deterministic");

    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::new(data.path(), trusting(&registry), Limits::default());
    let prepared = store.prepare(&pinned).await.unwrap();
    assert_eq!(
        std::fs::read(prepared.rootfs.join("var/runtime/bootstrap")).unwrap(),
        FAKE_BINARY
    );
    assert_eq!(
        prepared.config.entrypoint,
        Some(vec!["/var/runtime/bootstrap".to_string()])
    );
    assert!(prepared.config.env.unwrap().contains(&"GREETING=hi".to_string()));
    for mount_point in ["dev", "proc", "tmp"] {
        assert!(prepared.rootfs.join(mount_point).is_dir(), "{mount_point}");
    }
}

#[tokio::test]
async fn content_that_does_not_match_its_digest_is_refused() {
    let registry = OciRegistry::start();
    let image = binary_image(FAKE_BINARY, &[]).unwrap();
    let pinned = push(&image, &format!("{}/perf:v1", registry.host()), true)
        .await
        .unwrap();
    // The registry now serves other bytes under the layer's digest.
    let layer_hex = quartz_oci::blobs::sha256(&image.layers[0]).hex();
    std::fs::write(registry.blob_path(&layer_hex), b"tampered").unwrap();

    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::new(data.path(), trusting(&registry), Limits::default());
    let err = store.prepare(&pinned).await.unwrap_err();
    assert!(
        matches!(&err, OciError::DigestMismatch { .. }) || err.to_string().contains("digest"),
        "expected a digest error, got {err}"
    );
    assert!(
        !data.path().join("blobs/sha256").join(&layer_hex).exists(),
        "unverified bytes were stored"
    );
}

#[tokio::test]
async fn a_digest_the_registry_does_not_have_is_an_error() {
    let registry = OciRegistry::start();
    let missing: PinnedImage = format!("{}/perf@sha256:{}", registry.host(), "ab".repeat(32))
        .parse()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = ImageStore::new(data.path(), trusting(&registry), Limits::default());
    assert!(matches!(
        store.prepare(&missing).await.unwrap_err(),
        OciError::Registry { .. }
    ));
}

#[tokio::test]
async fn a_private_registry_is_refused_unless_allowed() {
    let registry = OciRegistry::start();
    let image = binary_image(FAKE_BINARY, &[]).unwrap();
    let pinned = push(&image, &format!("{}/perf:v1", registry.host()), true)
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let insecure_only = RegistryPolicy {
        insecure_registries: vec![registry.host()],
        ..Default::default()
    };
    let store = ImageStore::new(data.path(), insecure_only, Limits::default());
    let err = store.prepare(&pinned).await.unwrap_err();
    assert!(
        matches!(err, OciError::RegistryNotAllowed { kind: "loopback", .. }),
        "{err}"
    );
}
