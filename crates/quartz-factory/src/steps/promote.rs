//! promote and register: move `live` forward to the new version, then record it.

use aws_sdk_lambda::operation::get_alias::GetAliasError;
use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome};
use quartz_store::WriteCondition;

use super::{StepEnv, needed};
use crate::context::Context;
use crate::error::StepError;
use crate::lambda::classify;

/// The alias the adapter invokes.
pub const LIVE_ALIAS: &str = "live";

pub(super) async fn promote(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let version = needed(&ctx.version, "the published version")?.clone();
    let name = ctx.function_name.as_str();
    // Checked again here, not only in validate: another release may have gone live meanwhile.
    if let Some(live) = env
        .performers
        .get_performer(ctx.set())
        .await?
        .and_then(|p| p.release_id)
        && live > ctx.release.release_id
    {
        return Err(StepError::fatal(
            "Release.Superseded",
            format!(
                "release {live} went live meanwhile; release {} is not promoted",
                ctx.release.release_id
            ),
        ));
    }
    let description = format!("release {}", ctx.release.release_id);
    match env.lambda.get_alias().function_name(name).name(LIVE_ALIAS).send().await {
        Ok(alias) if alias.function_version() == Some(version.as_str()) => Ok(()),
        Ok(alias) => {
            let mut update = env
                .lambda
                .update_alias()
                .function_name(name)
                .name(LIVE_ALIAS)
                .function_version(&version)
                .description(description);
            if let Some(revision) = alias.revision_id() {
                update = update.revision_id(revision);
            }
            update.send().await.map_err(|e| classify("UpdateAlias", &e))?;
            Ok(())
        }
        Err(e) if matches!(e.as_service_error(), Some(GetAliasError::ResourceNotFoundException(_))) => {
            env.lambda
                .create_alias()
                .function_name(name)
                .name(LIVE_ALIAS)
                .function_version(&version)
                .description(description)
                .send()
                .await
                .map_err(|e| classify("CreateAlias", &e))?;
            Ok(())
        }
        Err(e) => Err(classify("GetAlias", &e)),
    }
}

/// Writes the entry; the store appends the release to the history in the same transaction when
/// the release changes, so running this again after a crash records it once.
pub(super) async fn register(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let image = needed(&ctx.image, "the chosen image")?.clone();
    let update = PerformerUpdate {
        function_name: ctx.function_name.clone(),
        function_arn: ctx.function_arn.clone(),
        release_id: Some(ctx.release.release_id),
        function_version: ctx.version.clone(),
        artifact_digest: Some(image.digest),
        image_uri: Some(image),
        status: PerformerStatus::Active,
    };
    env.performers
        .put_performer(ctx.set(), update, WriteCondition::None, ReleaseOutcome::Deployed)
        .await?;
    Ok(())
}
