//! Rollback: move `live` back to a version that was live before, and record it.

use aws_sdk_lambda::Client;
use quartz_core::OperatorSet;
use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome};
use quartz_store::{Store, WriteCondition};
use serde::Serialize;

use crate::steps::LIVE_ALIAS;
use crate::{FactoryError, TARGET};

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack {
    pub from_release: Option<u64>,
    pub from_version: Option<String>,
    pub to_release: u64,
    pub to_version: String,
}

const HISTORY_SCAN: usize = 1_000;

/// Moves `live` of `set` to the version that served `to_release`, or, without it, to the most
/// recent release older than the live one that was deployed (or rolled back to). The registry
/// entry follows and the history records the rollback.
pub async fn rollback(
    store: &Store,
    lambda: &Client,
    set: OperatorSet,
    to_release: Option<u64>,
) -> Result<RolledBack, FactoryError> {
    let refuse = |reason: String| FactoryError::Rollback {
        set: set.to_string(),
        reason,
    };
    let current = store
        .get_performer(set)
        .await?
        .ok_or_else(|| refuse("no registry entry".into()))?;
    let live_release = current.release_id;
    let history = store.release_history(set, HISTORY_SCAN).await?;
    let target = history
        .iter()
        .filter(|r| matches!(r.outcome, ReleaseOutcome::Deployed | ReleaseOutcome::RolledBack))
        .filter(|r| r.function_version.is_some() && Some(r.release_id) != live_release)
        .find(|r| match to_release {
            Some(wanted) => r.release_id == wanted,
            None => live_release.is_none_or(|live| r.release_id < live),
        })
        .ok_or_else(|| {
            refuse(match to_release {
                Some(n) => format!("release {n} was never deployed with a version to return to"),
                None => "no earlier deployed release to return to".into(),
            })
        })?
        .clone();
    let version = target.function_version.clone().unwrap_or_default();
    let name = current.function_name.as_str();
    let alias = lambda
        .get_alias()
        .function_name(name)
        .name(LIVE_ALIAS)
        .send()
        .await
        .map_err(|e| FactoryError::Lambda(crate::lambda::classify("GetAlias", &e).message))?;
    let mut update = lambda
        .update_alias()
        .function_name(name)
        .name(LIVE_ALIAS)
        .function_version(&version)
        .description(format!("rolled back to release {}", target.release_id));
    if let Some(revision) = alias.revision_id() {
        update = update.revision_id(revision);
    }
    update
        .send()
        .await
        .map_err(|e| FactoryError::Lambda(crate::lambda::classify("UpdateAlias", &e).message))?;
    let update = PerformerUpdate {
        function_name: current.function_name.clone(),
        function_arn: current.function_arn.clone(),
        release_id: Some(target.release_id),
        function_version: Some(version.clone()),
        image_uri: target.image_uri.clone(),
        artifact_digest: target.artifact_digest,
        status: PerformerStatus::Active,
    };
    store
        .put_performer(
            set,
            update,
            WriteCondition::Revision(current.revision),
            ReleaseOutcome::RolledBack,
        )
        .await?;
    tracing::warn!(
        target: TARGET, %set, from = ?live_release, to = target.release_id, %version, "live rolled back"
    );
    Ok(RolledBack {
        from_release: live_release,
        from_version: current.function_version,
        to_release: target.release_id,
        to_version: version,
    })
}
