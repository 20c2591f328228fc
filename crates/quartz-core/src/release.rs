use serde::{Deserialize, Serialize};

use crate::{ImageRepository, OperatorSet, PinnedImage, Sha256Digest};

/// One artifact of a release as published on chain: a digest and the registry URL it came with.
/// The URL is kept verbatim (it is untrusted); [`Artifact::pinned_image`] validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub digest: Sha256Digest,
    pub registry_url: String,
}

impl Artifact {
    pub fn pinned_image(&self) -> Result<PinnedImage, crate::DomainError> {
        let repository: ImageRepository = self.registry_url.parse()?;
        Ok(PinnedImage::new(repository, self.digest))
    }
}

/// A release of an operator set's performer, as published on the ReleaseManager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub operator_set: OperatorSet,
    /// The per-operator-set counter assigned by the contract (a uint256 on chain; u64 here).
    pub release_id: u64,
    pub artifacts: Vec<Artifact>,
    /// Unix seconds by which operators are expected to run this release.
    pub upgrade_by_time: u32,
}
