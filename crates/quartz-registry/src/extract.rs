//! Request parsing with error messages that name the field, instead of axum's default rejections.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use quartz_core::{AvsAddress, OperatorSet, parse_operator_set_id};
use quartz_store::WriteCondition;
use serde::de::DeserializeOwned;

use crate::{ApiError, MAX_BODY_BYTES};

/// A JSON body; rejections become 400 (syntax, types, unknown fields), 413 or 415.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType("the body must be JSON: send Content-Type: application/json".into())
        }
        _ => ApiError::BadRequest(format!("invalid JSON body: {}", rejection.body_text())),
    }
}

/// `/performers/{avs}/{opsetId}`, parsed into an operator set.
pub struct OperatorSetPath(pub OperatorSet);

impl<S: Send + Sync> FromRequestParts<S> for OperatorSetPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((avs, id)) = axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))?;
        let avs: AvsAddress = avs
            .parse()
            .map_err(|e| ApiError::BadRequest(format!("path parameter avs: {e}")))?;
        let id =
            parse_operator_set_id(&id).map_err(|e| ApiError::BadRequest(format!("path parameter opsetId: {e}")))?;
        Ok(Self(OperatorSet::new(avs, id)))
    }
}

/// The optional `If-Match: <revision>` header of conditional writes.
pub fn write_condition(parts: &axum::http::HeaderMap) -> Result<WriteCondition, ApiError> {
    let Some(value) = parts.get(axum::http::header::IF_MATCH) else {
        return Ok(WriteCondition::None);
    };
    let text = value.to_str().unwrap_or_default().trim().trim_matches('"');
    text.parse::<u64>()
        .map(WriteCondition::Revision)
        .map_err(|_| ApiError::BadRequest(format!("header If-Match: expected a revision number, got {value:?}")))
}

/// Paging cursors are opaque to clients; they hold the key of the last entry of the previous
/// page as `{avs}-{id}`. The id is read as u64 so that every string the documented pattern allows
/// is a usable cursor (an id past u32::MAX simply means "after every set of that AVS").
pub fn encode_cursor(after: &OperatorSet) -> String {
    format!("{}-{}", after.avs, after.id)
}

pub fn decode_cursor(cursor: &str) -> Result<(AvsAddress, u64), ApiError> {
    let invalid = || {
        ApiError::BadRequest(format!(
            "query parameter cursor: {cursor:?} is not a cursor returned by this API"
        ))
    };
    let (avs, id) = cursor.split_once('-').ok_or_else(invalid)?;
    let id = if !id.is_empty() && id.len() <= 10 && id.bytes().all(|b| b.is_ascii_digit()) {
        id.parse::<u64>().map_err(|_| invalid())?
    } else {
        return Err(invalid());
    };
    Ok((avs.parse().map_err(|_| invalid())?, id))
}
