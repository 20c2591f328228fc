//! resolve and make-available: the image, fetched by digest and verified, then made available
//! to the function platform through the [`MakeAvailable`] seam.

use async_trait::async_trait;
use quartz_core::{OperatorSet, PinnedImage, Sha256Digest};
use quartz_oci::OciError;

use super::{StepEnv, needed};
use crate::context::Context;
use crate::error::StepError;

/// The image as resolved: what was pinned and the platform manifest it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    pub pinned: PinnedImage,
    pub manifest: Sha256Digest,
    /// Which release it is, for a mirror that tags what it copies per release.
    pub operator_set: OperatorSet,
    pub release_id: u64,
}

/// Makes a verified image available to the function platform and says which reference the
/// function is deployed from. Locally the runtime pulls by digest itself; on AWS an ECR mirror
/// copies the manifest and blobs by digest (`quartz_aws::EcrAvailability`). Must be idempotent.
#[async_trait]
pub trait MakeAvailable: Send + Sync {
    async fn make_available(&self, image: &ResolvedImage) -> Result<String, StepError>;
}

/// The local runtime pulls `registry/path@sha256:…` itself, verifying every byte, so the image
/// is deployed from its source reference, still pinned by digest.
pub struct LocalAvailability;

#[async_trait]
impl MakeAvailable for LocalAvailability {
    async fn make_available(&self, image: &ResolvedImage) -> Result<String, StepError> {
        Ok(image.pinned.to_string())
    }
}

pub(super) async fn resolve(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let image = needed(&ctx.image, "the chosen image")?;
    let pulled = env.puller.pull(image).await.map_err(|e| classify(image, e))?;
    ctx.manifest_digest = Some(pulled.manifest);
    Ok(())
}

pub(super) async fn make_available(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let resolved = ResolvedImage {
        pinned: needed(&ctx.image, "the chosen image")?.clone(),
        manifest: *needed(&ctx.manifest_digest, "the resolved manifest")?,
        operator_set: ctx.set(),
        release_id: ctx.release.release_id,
    };
    ctx.deploy_image_uri = Some(env.availability.make_available(&resolved).await?);
    Ok(())
}

/// Content that is wrong stays wrong: mismatches, invalid manifests and refused registries are
/// final. Network and registry answers (including "manifest unknown", which a registry still
/// receiving a push also gives) are retried.
fn classify(image: &PinnedImage, error: OciError) -> StepError {
    let message = format!("{image}: {error}");
    match error {
        OciError::Registry { .. } | OciError::Resolve { .. } | OciError::Io { .. } => {
            StepError::retryable("Image.Unavailable", message)
        }
        OciError::DigestMismatch { .. } => StepError::fatal("Image.DigestMismatch", message),
        OciError::RegistryNotAllowed { .. } => StepError::fatal("Image.RegistryNotAllowed", message),
        OciError::NoPlatform => StepError::fatal("Image.NoPlatform", message),
        OciError::TooLarge { .. } => StepError::fatal("Image.TooLarge", message),
        _ => StepError::fatal("Image.Invalid", message),
    }
}
