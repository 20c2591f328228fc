//! A content-addressed blob store: `<root>/sha256/<hex>`. A blob is written to a temporary file,
//! hashed while written, and renamed into place only when its digest matches, so a file at a
//! digest's path always holds exactly those bytes.

use std::path::{Path, PathBuf};

use quartz_core::Sha256Digest;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::OciError;

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

pub fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest::from_bytes(Sha256::digest(bytes).into())
}

/// Parses a descriptor's digest, refusing algorithms other than sha256.
pub fn parse_digest(value: &str) -> Result<Sha256Digest, OciError> {
    if !value.starts_with("sha256:") {
        return Err(OciError::UnsupportedDigest(value.to_string()));
    }
    value
        .parse()
        .map_err(|_| OciError::UnsupportedDigest(value.to_string()))
}

impl BlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn path(&self, digest: &Sha256Digest) -> PathBuf {
        self.root.join("sha256").join(digest.hex())
    }

    pub fn contains(&self, digest: &Sha256Digest) -> bool {
        self.path(digest).is_file()
    }

    pub async fn read(&self, digest: &Sha256Digest) -> Result<Vec<u8>, OciError> {
        let path = self.path(digest);
        tokio::fs::read(&path).await.map_err(OciError::io("read blob", path))
    }

    /// Stores `bytes` after checking that they hash to `expected`.
    pub async fn put_verified(
        &self,
        what: &'static str,
        expected: &Sha256Digest,
        bytes: &[u8],
    ) -> Result<(), OciError> {
        let actual = sha256(bytes);
        if actual != *expected {
            return Err(OciError::DigestMismatch {
                what,
                expected: expected.to_string(),
                actual,
            });
        }
        let mut writer = self.writer().await?;
        writer.write(bytes).await?;
        writer.commit(what, expected).await
    }

    /// A writer for a blob of not yet known content; [`BlobWriter::commit`] verifies and publishes it.
    pub async fn writer(&self) -> Result<BlobWriter, OciError> {
        let dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(OciError::io("create", &dir))?;
        tokio::fs::create_dir_all(self.root.join("sha256"))
            .await
            .map_err(OciError::io("create", &self.root))?;
        let path = dir.join(format!("{}-{}", std::process::id(), unique_suffix()));
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(OciError::io("create", &path))?;
        Ok(BlobWriter {
            file,
            path,
            hasher: Sha256::new(),
            store: self.clone(),
            size: 0,
        })
    }
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub struct BlobWriter {
    file: tokio::fs::File,
    path: PathBuf,
    hasher: Sha256,
    store: BlobStore,
    size: u64,
}

impl BlobWriter {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), OciError> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        self.file
            .write_all(bytes)
            .await
            .map_err(OciError::io("write", &self.path))
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn commit(mut self, what: &'static str, expected: &Sha256Digest) -> Result<(), OciError> {
        self.file.flush().await.map_err(OciError::io("write", &self.path))?;
        self.file.sync_all().await.map_err(OciError::io("sync", &self.path))?;
        let actual = Sha256Digest::from_bytes(std::mem::take(&mut self.hasher).finalize().into());
        if actual != *expected {
            discard(&self.path).await;
            return Err(OciError::DigestMismatch {
                what,
                expected: expected.to_string(),
                actual,
            });
        }
        let target = self.store.path(expected);
        tokio::fs::rename(&self.path, &target)
            .await
            .map_err(OciError::io("store blob", target))
    }

    pub async fn abort(self) {
        discard(&self.path).await;
    }
}

async fn discard(path: &Path) {
    if let Err(e) = tokio::fs::remove_file(path).await {
        tracing::debug!(target: "quartz::oci", path = %path.display(), error = %e, "cannot remove temporary blob");
    }
}
