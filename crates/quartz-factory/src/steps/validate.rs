//! validate: the release is deployable and moves its operator set forward.

use quartz_core::{Artifact, PinnedImage, Release};

use super::StepEnv;
use crate::context::Context;
use crate::error::StepError;

/// The artifact choice rule: the **first artifact, in the order the release lists them on chain,
/// whose `registryUrl` parses as an image repository**; it is deployed pinned by that
/// artifact's digest (a tag in the URL is ignored). An all-zero digest means "a tag without a
/// digest" and is refused, as is a release with no artifacts or with none that parses. Later
/// artifacts are alternatives (mirrors), not additional images: a performer is one image.
pub fn choose_artifact(release: &Release) -> Result<PinnedImage, StepError> {
    if release.artifacts.is_empty() {
        return Err(StepError::fatal(
            "Release.NoArtifacts",
            format!("release {} lists no artifacts", release.release_id),
        ));
    }
    let mut reasons = Vec::new();
    for (index, artifact) in release.artifacts.iter().enumerate() {
        match check(artifact) {
            Ok(image) => return Ok(image),
            Err(reason) => reasons.push(format!("artifact {index}: {reason}")),
        }
    }
    Err(StepError::fatal("Release.NoUsableArtifact", reasons.join("; ")))
}

fn check(artifact: &Artifact) -> Result<PinnedImage, String> {
    if artifact.digest.as_bytes().iter().all(|b| *b == 0) {
        return Err(format!(
            "{:?} has no digest (all zero); Quartz deploys only images pinned by digest",
            artifact.registry_url
        ));
    }
    artifact.pinned_image().map_err(|e| e.to_string())
}

pub(super) async fn run(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let image = choose_artifact(&ctx.release)?;
    let live = env.performers.get_performer(ctx.set()).await?;
    if let Some(live_release) = live.as_ref().and_then(|p| p.release_id) {
        let ours = ctx.release.release_id;
        if live_release > ours {
            return Err(StepError::fatal(
                "Release.Downgrade",
                format!("release {ours} is older than release {live_release}, which is live; Quartz never downgrades"),
            ));
        }
        if live_release == ours {
            return Err(StepError::fatal(
                "Release.AlreadyLive",
                format!("release {ours} is already live"),
            ));
        }
    }
    ctx.previous_release = live.as_ref().and_then(|p| p.release_id);
    ctx.previous_version = live.and_then(|p| p.function_version);
    ctx.image = Some(image);
    Ok(())
}
