//! What the performer registry records: which function serves an operator set, at which release,
//! version and digest, and the history of releases it has served. Shared by every registry
//! backend (SQLite locally, DynamoDB on AWS) and by the HTTP API.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{AvsAddress, FunctionName, PinnedImage, Sha256Digest};

/// A registry entry: the function that serves one operator set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Performer {
    /// Lowercase 0x-hex.
    #[schema(value_type = String, example = "0x8e14db002737f89745bc98f987caeb18d0d47635")]
    pub avs_address: AvsAddress,
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub operator_set_id: u32,
    #[schema(value_type = String)]
    pub function_name: FunctionName,
    pub function_arn: Option<String>,
    #[schema(minimum = 0)]
    pub release_id: Option<u64>,
    /// The immutable Lambda version the `live` alias points at.
    pub function_version: Option<String>,
    /// `registry/path@sha256:<hex>`.
    #[schema(value_type = Option<String>)]
    pub image_uri: Option<PinnedImage>,
    #[schema(value_type = Option<String>)]
    pub artifact_digest: Option<Sha256Digest>,
    pub status: PerformerStatus,
    /// Incremented by every write; send it back in `If-Match` for a conditional update.
    #[schema(minimum = 1)]
    pub revision: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PerformerStatus {
    #[default]
    Active,
    Inactive,
}

impl PerformerStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

/// The fields a writer sets on a registry entry. Absent optional fields are cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerformerUpdate {
    pub function_name: FunctionName,
    pub function_arn: Option<String>,
    pub release_id: Option<u64>,
    pub function_version: Option<String>,
    pub image_uri: Option<PinnedImage>,
    pub artifact_digest: Option<Sha256Digest>,
    pub status: PerformerStatus,
}

/// How a release ended up for an operator set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReleaseOutcome {
    /// Deployed by the factory and made live.
    Deployed,
    /// The deployment failed; `live` stayed where it was.
    Failed,
    /// `live` was moved back to this release.
    RolledBack,
    /// Written through the registry API by an operator rather than by the factory.
    Registered,
}

impl ReleaseOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Deployed => "deployed",
            Self::Failed => "failed",
            Self::RolledBack => "rolledBack",
            Self::Registered => "registered",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Deployed, Self::Failed, Self::RolledBack, Self::Registered]
            .into_iter()
            .find(|o| o.as_str() == value)
    }
}

/// One line of an operator set's release history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRecord {
    #[schema(minimum = 0)]
    pub release_id: u64,
    #[schema(value_type = Option<String>)]
    pub artifact_digest: Option<Sha256Digest>,
    #[schema(value_type = Option<String>)]
    pub image_uri: Option<PinnedImage>,
    pub function_version: Option<String>,
    pub deployed_at: String,
    pub outcome: ReleaseOutcome,
    /// Why, for failures: the step, error type and message.
    pub detail: Option<String>,
}
