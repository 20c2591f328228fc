//! The API's request and response bodies.

use quartz_core::registry::{Performer, PerformerStatus, ReleaseRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PUT /performers/{avs}/{opsetId}`. Every field is optional; `functionName` defaults to the
/// naming rule's name for the operator set. The function must exist on the Lambda API.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutPerformerRequest {
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub function_name: Option<quartz_core::FunctionName>,
    #[schema(max_length = 256, pattern = "^arn:[A-Za-z0-9:/_.$-]+$")]
    pub function_arn: Option<String>,
    #[schema(minimum = 0, maximum = 9223372036854775807_u64)]
    pub release_id: Option<u64>,
    /// A published version number, or `$LATEST`.
    #[schema(pattern = "^(\\$LATEST|[1-9][0-9]{0,18})$")]
    pub function_version: Option<String>,
    /// `registry/path@sha256:<hex>`.
    #[schema(value_type = Option<String>, pattern = "^[a-z0-9.:/_-]+@sha256:[0-9a-f]{64}$")]
    pub image_uri: Option<quartz_core::PinnedImage>,
    /// `sha256:<hex>`.
    #[schema(value_type = Option<String>, pattern = "^sha256:[0-9a-f]{64}$")]
    pub artifact_digest: Option<quartz_core::Sha256Digest>,
    pub status: Option<PerformerStatus>,
}

impl PutPerformerRequest {
    /// The checks serde cannot express, each naming its field. `function_name` is the function
    /// the entry will point at (the request's, or the naming rule's for `set`).
    pub fn validate(
        &self,
        set: &quartz_core::OperatorSet,
        function_name: &quartz_core::FunctionName,
    ) -> Result<(), crate::ApiError> {
        let bad = |msg: String| Err(crate::ApiError::BadRequest(msg));
        // A name made by Quartz's rule belongs to exactly one operator set: pointing another set
        // at it would send that set's tasks to someone else's performer.
        if let Some(owner) = function_name.operator_set()
            && owner != *set
        {
            return bad(format!(
                "functionName: {function_name} is the function of operator set {owner}, not of {set}"
            ));
        }
        if let Some(release_id) = self.release_id
            && i64::try_from(release_id).is_err()
        {
            return bad(format!("releaseId: {release_id} is larger than 9223372036854775807"));
        }
        if let Some(arn) = &self.function_arn
            && (arn.len() > 256
                || !arn.starts_with("arn:")
                || !arn.bytes().all(|b| b.is_ascii_alphanumeric() || b":/_.$-".contains(&b)))
        {
            return bad("functionArn: expected an ARN (arn:...) of at most 256 characters".into());
        }
        if let Some(arn) = &self.function_arn {
            // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
            let named = arn.split(':').collect::<Vec<_>>();
            if named.get(5) != Some(&"function") || named.get(6) != Some(&function_name.as_str()) {
                return bad(format!(
                    "functionArn: must be the ARN of function {function_name} (…:function:{function_name})"
                ));
            }
        }
        if let Some(version) = &self.function_version
            && version != "$LATEST"
            && (version.is_empty()
                || version.len() > 19
                || version.starts_with('0')
                || !version.bytes().all(|b| b.is_ascii_digit()))
        {
            return bad(format!(
                "functionVersion: expected a version number (1 or more) or $LATEST, got {version:?}"
            ));
        }
        if let (Some(image), Some(digest)) = (&self.image_uri, &self.artifact_digest)
            && image.digest != *digest
        {
            return bad("artifactDigest: does not match the digest in imageUri".into());
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformerList {
    pub performers: Vec<Performer>,
    /// Entries in this page.
    pub count: usize,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The state of the function behind a performer, from the Lambda API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatusView {
    /// Lambda's `State` (`Pending`, `Active`, `Inactive`, `Failed`), `NotFound` when the function
    /// does not exist, or `Unknown` when the Lambda API could not be asked.
    pub state: String,
    pub last_modified: Option<String>,
    pub code_size: Option<i64>,
    /// Why `state` is `Unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformerDetail {
    #[serde(flatten)]
    pub performer: Performer,
    pub function_status: FunctionStatusView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PutPerformerResponse {
    pub message: String,
    pub performer: Performer,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletePerformerResponse {
    pub message: String,
    pub deleted_performer: Performer,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReleaseHistory {
    /// Newest first.
    pub releases: Vec<ReleaseRecord>,
    pub count: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}
