//! Pulling an image pinned by digest. Every manifest and blob is hashed and compared with the
//! digest that names it before it is stored or used; an index is resolved to its linux/amd64 entry.

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use quartz_core::{PinnedImage, Sha256Digest};

use crate::blobs::{BlobStore, parse_digest};
use crate::manifest::{ACCEPTED_MANIFESTS, AnyManifest, ConfigFile, Descriptor};
use crate::{OciError, RegistryPolicy};

/// An image whose manifest, config and layers are all in the blob store, verified.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// The digest the image was pinned by (an index or a manifest).
    pub pinned: Sha256Digest,
    /// The linux/amd64 image manifest's digest.
    pub manifest: Sha256Digest,
    pub config: ConfigFile,
    pub layers: Vec<Descriptor>,
}

#[derive(Clone)]
pub struct Puller {
    client: Client,
    policy: RegistryPolicy,
    blobs: BlobStore,
    max_image_bytes: u64,
}

impl Puller {
    pub fn new(policy: RegistryPolicy, blobs: BlobStore, max_image_bytes: u64) -> Self {
        Self {
            client: client_for(&policy),
            policy,
            blobs,
            max_image_bytes,
        }
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub async fn pull(&self, image: &PinnedImage) -> Result<PulledImage, OciError> {
        let registry = image.repository.registry.as_str();
        self.policy.check(registry).await?;
        let top = self.manifest(image, image.digest).await?;
        let (manifest_digest, manifest) = match top.manifests {
            Some(entries) => {
                let chosen = select_linux_amd64(&entries)?;
                let digest = parse_digest(&chosen.digest)?;
                let manifest = self.manifest(image, digest).await?;
                if manifest.manifests.is_some() {
                    return Err(invalid("image index", "an index entry points to another index"));
                }
                (digest, manifest)
            }
            None => (image.digest, top),
        };
        let config_desc = manifest
            .config
            .ok_or_else(|| invalid("image manifest", "no config descriptor"))?;
        let layers = manifest.layers.unwrap_or_default();
        let total: u64 = layers
            .iter()
            .map(|l| l.size)
            .sum::<u64>()
            .saturating_add(config_desc.size);
        if total > self.max_image_bytes {
            return Err(OciError::TooLarge {
                limit: self.max_image_bytes,
            });
        }
        let config_digest = self.blob(image, &config_desc).await?;
        let config_bytes = self.blobs.read(&config_digest).await?;
        let config: ConfigFile =
            serde_json::from_slice(&config_bytes).map_err(|e| invalid("image config", e.to_string()))?;
        if !config.os.is_empty() && config.os != "linux" {
            return Err(invalid(
                "image config",
                format!("os is {:?}, expected linux", config.os),
            ));
        }
        for layer in &layers {
            self.blob(image, layer).await?;
        }
        Ok(PulledImage {
            pinned: image.digest,
            manifest: manifest_digest,
            config,
            layers,
        })
    }

    async fn manifest(&self, image: &PinnedImage, digest: Sha256Digest) -> Result<AnyManifest, OciError> {
        let bytes = if self.blobs.contains(&digest) {
            self.blobs.read(&digest).await?
        } else {
            let reference = reference(image, &digest);
            let (bytes, _) = self
                .client
                .pull_manifest_raw(&reference, &RegistryAuth::Anonymous, ACCEPTED_MANIFESTS)
                .await
                .map_err(|e| registry_error(image, e))?;
            self.blobs.put_verified("manifest", &digest, &bytes).await?;
            bytes.to_vec()
        };
        let parsed: AnyManifest = serde_json::from_slice(&bytes).map_err(|e| invalid("manifest", e.to_string()))?;
        if parsed.schema_version != 2 {
            return Err(invalid(
                "manifest",
                format!("schemaVersion {} is not 2", parsed.schema_version),
            ));
        }
        Ok(parsed)
    }

    /// Downloads one blob into the store unless it is already there, verifying size and digest.
    async fn blob(&self, image: &PinnedImage, desc: &Descriptor) -> Result<Sha256Digest, OciError> {
        let digest = parse_digest(&desc.digest)?;
        if self.blobs.contains(&digest) {
            return Ok(digest);
        }
        let reference = reference(image, &digest);
        let mut stream = self
            .client
            .pull_blob_stream(&reference, desc.digest.as_str())
            .await
            .map_err(|e| registry_error(image, e))?;
        let mut writer = self.blobs.writer().await?;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    // The client's own check fails at the end of a blob whose bytes do not match;
                    // our hash of what arrived decides, and names the mismatch precisely.
                    return match writer.commit("blob", &digest).await {
                        Ok(()) => Ok(digest),
                        Err(mismatch @ OciError::DigestMismatch { .. }) => Err(mismatch),
                        Err(_) => Err(OciError::Registry {
                            registry: image.repository.registry.clone(),
                            message: e.to_string(),
                        }),
                    };
                }
            };
            writer.write(&chunk).await?;
            if writer.size() > desc.size {
                writer.abort().await;
                return Err(invalid(
                    "blob",
                    format!("{} is larger than its descriptor's size {}", desc.digest, desc.size),
                ));
            }
        }
        writer.commit("blob", &digest).await?;
        Ok(digest)
    }
}

pub(crate) fn client_for(policy: &RegistryPolicy) -> Client {
    let config = ClientConfig {
        protocol: ClientProtocol::HttpsExcept(policy.insecure_registries.clone()),
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        read_timeout: Some(std::time::Duration::from_secs(60)),
        ..ClientConfig::default()
    };
    Client::new(config)
}

fn reference(image: &PinnedImage, digest: &Sha256Digest) -> Reference {
    Reference::with_digest(
        image.repository.registry.clone(),
        image.repository.path.clone(),
        digest.to_string(),
    )
}

fn select_linux_amd64(entries: &[Descriptor]) -> Result<&Descriptor, OciError> {
    entries
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .ok_or(OciError::NoPlatform)
}

fn invalid(what: &'static str, reason: impl Into<String>) -> OciError {
    OciError::InvalidManifest {
        what,
        reason: reason.into(),
    }
}

pub(crate) fn registry_error(image: &PinnedImage, error: oci_client::errors::OciDistributionError) -> OciError {
    OciError::Registry {
        registry: image.repository.registry.clone(),
        message: error.to_string(),
    }
}
