//! What an execution carries from step to step. Journaled after every successful step, so a
//! resumed execution continues with exactly what the finished steps produced.

use quartz_core::{FunctionName, OperatorSet, PinnedImage, Release, Sha256Digest};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub chain_id: u64,
    pub release: Release,
    pub function_name: FunctionName,
    /// validate: the artifact chosen, pinned by its digest.
    pub image: Option<PinnedImage>,
    /// validate: what was live before, to report and to roll back to.
    pub previous_release: Option<u64>,
    pub previous_version: Option<String>,
    /// resolve: the platform (linux/amd64) manifest the pinned digest leads to.
    pub manifest_digest: Option<Sha256Digest>,
    /// make-available: the image reference the platform deploys from.
    pub deploy_image_uri: Option<String>,
    /// deploy: the function as it settled.
    pub function_arn: Option<String>,
    pub code_sha256: Option<String>,
    /// publish: the immutable version.
    pub version: Option<String>,
}

impl Context {
    pub fn new(chain_id: u64, release: Release) -> Self {
        Self {
            chain_id,
            function_name: FunctionName::for_operator_set(&release.operator_set),
            release,
            image: None,
            previous_release: None,
            previous_version: None,
            manifest_digest: None,
            deploy_image_uri: None,
            function_arn: None,
            code_sha256: None,
            version: None,
        }
    }

    pub fn set(&self) -> OperatorSet {
        self.release.operator_set
    }
}

/// The execution id: deterministic from (avs, operator set id, releaseId), so that delivering a
/// release again finds the same execution. `{40 hex}-{opset}-{release}` is at most 72
/// characters of `[0-9a-f-]`, which Step Functions also accepts as an execution name (≤ 80).
pub fn execution_id(release: &Release) -> String {
    format!(
        "{}-{}-{}",
        release.operator_set.avs.bare_hex(),
        release.operator_set.id,
        release.release_id
    )
}
