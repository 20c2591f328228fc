use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::{ApiError, RegistryState};

/// Proof that the request may write: `Authorization: Bearer <token>` when the registry has a
/// token. An extractor, so that it runs before the body is read and a caller without the token
/// learns nothing about what a valid body looks like.
pub struct Writer;

impl FromRequestParts<RegistryState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &RegistryState) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.token else {
            return Ok(Self);
        };
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized)?;
        let presented = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(ApiError::Unauthorized)?
            .trim();
        // Constant time, so that response timing does not reveal how much of a guess was right.
        if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(Self)
        } else {
            Err(ApiError::Forbidden)
        }
    }
}
