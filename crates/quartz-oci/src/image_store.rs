//! Images prepared for running: pulled, verified and unpacked once per digest into
//! `<root>/rootfs/<manifest hex>`, with the config kept beside it in `<root>/images/<pinned hex>.json`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use quartz_core::{PinnedImage, Sha256Digest};
use serde::{Deserialize, Serialize};

use crate::manifest::ContainerConfig;
use crate::unpack::unpack_layers;
use crate::{BlobStore, OciError, Puller, RegistryPolicy};

/// An image ready to run: a read-only rootfs and the container config from the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedImage {
    pub manifest: Sha256Digest,
    pub rootfs: PathBuf,
    pub config: ContainerConfig,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sum of compressed blob sizes.
    pub max_image_bytes: u64,
    /// Sum of unpacked regular file sizes.
    pub max_unpacked_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_image_bytes: 2 << 30,
            max_unpacked_bytes: 8 << 30,
        }
    }
}

#[derive(Clone)]
pub struct ImageStore {
    root: PathBuf,
    puller: Puller,
    limits: Limits,
    /// One preparation per digest at a time; concurrent callers wait for the first.
    locks: Arc<Mutex<HashMap<Sha256Digest, Arc<tokio::sync::Mutex<()>>>>>,
}

impl ImageStore {
    pub fn new(root: impl Into<PathBuf>, policy: RegistryPolicy, limits: Limits) -> Self {
        let root = root.into();
        let puller = Puller::new(policy, BlobStore::new(root.join("blobs")), limits.max_image_bytes);
        Self {
            root,
            puller,
            limits,
            locks: Arc::default(),
        }
    }

    pub fn puller(&self) -> &Puller {
        &self.puller
    }

    /// Returns the prepared image, pulling and unpacking it first when needed.
    pub async fn prepare(&self, image: &PinnedImage) -> Result<PreparedImage, OciError> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(image.digest).or_default().clone()
        };
        let _guard = lock.lock().await;
        if let Some(prepared) = self.cached(&image.digest).await {
            return Ok(prepared);
        }
        let pulled = self.puller.pull(image).await?;
        let rootfs = self.root.join("rootfs").join(pulled.manifest.hex());
        if tokio::fs::symlink_metadata(&rootfs).await.is_err() {
            self.unpack(&pulled.layers, &rootfs).await?;
        }
        let prepared = PreparedImage {
            manifest: pulled.manifest,
            rootfs,
            config: pulled.config.config,
        };
        let meta_path = self.meta_path(&image.digest);
        let bytes = serde_json::to_vec(&prepared).map_err(|e| OciError::Io {
            action: "encode",
            path: meta_path.clone(),
            source: std::io::Error::other(e),
        })?;
        let meta_dir = self.root.join("images");
        tokio::fs::create_dir_all(&meta_dir)
            .await
            .map_err(OciError::io("create", &meta_dir))?;
        tokio::fs::write(&meta_path, bytes)
            .await
            .map_err(OciError::io("write", &meta_path))?;
        tracing::info!(target: "quartz::oci", image = %image, manifest = %prepared.manifest, "image prepared");
        Ok(prepared)
    }

    async fn cached(&self, digest: &Sha256Digest) -> Option<PreparedImage> {
        let bytes = tokio::fs::read(self.meta_path(digest)).await.ok()?;
        let prepared: PreparedImage = serde_json::from_slice(&bytes).ok()?;
        tokio::fs::symlink_metadata(&prepared.rootfs)
            .await
            .ok()?
            .is_dir()
            .then_some(prepared)
    }

    fn meta_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", digest.hex()))
    }

    /// Unpacks into a temporary directory renamed into place, so a crash never leaves a half rootfs.
    async fn unpack(&self, layers: &[crate::manifest::Descriptor], rootfs: &std::path::Path) -> Result<(), OciError> {
        let parent = self.root.join("rootfs");
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(OciError::io("create", &parent))?;
        let staging = parent.join(format!(".staging-{}-{}", std::process::id(), rand_suffix()));
        let blobs = self.puller.blobs().clone();
        let layers = layers.to_vec();
        let max = self.limits.max_unpacked_bytes;
        let target = staging.clone();
        let result = tokio::task::spawn_blocking(move || {
            std::fs::create_dir(&target).map_err(OciError::io("create", &target))?;
            unpack_layers(&blobs, &layers, &target, max)
        })
        .await
        .unwrap_or_else(|e| {
            Err(OciError::Io {
                action: "unpack",
                path: staging.clone(),
                source: std::io::Error::other(e),
            })
        });
        if let Err(e) = result {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(e);
        }
        tokio::fs::rename(&staging, rootfs)
            .await
            .map_err(OciError::io("rename", rootfs))
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
