use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quartz_core::registry::{PerformerUpdate, ReleaseOutcome};
use quartz_core::{AvsAddress, FunctionName};
use quartz_lambda_client::function_status;

use crate::auth::Writer;
use crate::extract::{ApiJson, OperatorSetPath, decode_cursor, encode_cursor, write_condition};
use crate::model::{DeletePerformerResponse, Health, PerformerList, PutPerformerResponse, ReleaseHistory};
use crate::{ApiError, PerformerDetail, PutPerformerRequest, RegistryState};

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Reads a query parameter that must be an integer in `range`.
fn query_int(query: &HashMap<String, String>, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    match query.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "query parameter {name}: expected an integer from 1 to {max}, got {raw:?}"
                ))
            }),
    }
}

#[utoipa::path(get, path = "/performers", tag = "performers",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100)", minimum = 1, maximum = 1000),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page", pattern = "^0x[0-9a-f]{40}-[0-9]{1,10}$"),
        ("avs" = Option<String>, Query, description = "Only this AVS's performers", pattern = "^0x([0-9a-f]{40}|[0-9A-F]{40})$"),
    ),
    responses(
        (status = 200, body = PerformerList),
        (status = 400, body = crate::model::ErrorBody, description = "Bad limit, cursor or avs"),
    ))]
pub async fn list_performers(
    State(state): State<RegistryState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<PerformerList>, ApiError> {
    let limit = query_int(&query, "limit", DEFAULT_PAGE, MAX_PAGE)?;
    let after = query.get("cursor").map(|c| decode_cursor(c)).transpose()?;
    let avs = query
        .get("avs")
        .map(|a| {
            a.parse::<AvsAddress>()
                .map_err(|e| ApiError::BadRequest(format!("query parameter avs: {e}")))
        })
        .transpose()?;
    let page = state.performers.list_performers(after, avs, limit).await?;
    Ok(Json(PerformerList {
        count: page.performers.len(),
        next_cursor: page.next_after.as_ref().map(encode_cursor),
        performers: page.performers,
    }))
}

#[utoipa::path(get, path = "/performers/{avs}/{opsetId}", tag = "performers",
    params(
        ("avs" = String, Path, description = "AVS address: lowercase or uppercase hex, or an EIP-55 checksum", pattern = "^0x([0-9a-f]{40}|[0-9A-F]{40})$"),
        ("opsetId" = u64, Path, description = "Operator set id", minimum = 0, maximum = 4294967295_u64),
    ),
    responses(
        (status = 200, body = PerformerDetail),
        (status = 400, body = crate::model::ErrorBody),
        (status = 404, body = crate::model::ErrorBody),
    ))]
pub async fn get_performer(
    State(state): State<RegistryState>,
    OperatorSetPath(set): OperatorSetPath,
) -> Result<Json<PerformerDetail>, ApiError> {
    let performer = state
        .performers
        .get_performer(set)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no performer registered for {set}")))?;
    let function_status = state
        .statuses
        .get(&state.lambda, performer.function_name.as_str())
        .await;
    Ok(Json(PerformerDetail {
        performer,
        function_status,
    }))
}

#[utoipa::path(put, path = "/performers/{avs}/{opsetId}", tag = "performers",
    params(
        ("avs" = String, Path, description = "AVS address: lowercase or uppercase hex, or an EIP-55 checksum", pattern = "^0x([0-9a-f]{40}|[0-9A-F]{40})$"),
        ("opsetId" = u64, Path, description = "Operator set id", minimum = 0, maximum = 4294967295_u64),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Write only if the entry has this revision", pattern = "^\"?[0-9]{1,19}\"?$"),
    ),
    request_body = PutPerformerRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PutPerformerResponse, description = "Updated"),
        (status = 201, body = PutPerformerResponse, description = "Created"),
        (status = 400, body = crate::model::ErrorBody, description = "Invalid input, or the function does not exist"),
        (status = 401, body = crate::model::ErrorBody),
        (status = 403, body = crate::model::ErrorBody),
        (status = 412, body = crate::model::ErrorBody, description = "If-Match revision differs"),
        (status = 413, body = crate::model::ErrorBody),
        (status = 415, body = crate::model::ErrorBody),
        (status = 502, body = crate::model::ErrorBody, description = "The Lambda API could not be reached"),
    ))]
pub async fn put_performer(
    State(state): State<RegistryState>,
    _writer: Writer,
    OperatorSetPath(set): OperatorSetPath,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PutPerformerRequest>,
) -> Result<Response, ApiError> {
    let condition = write_condition(&headers)?;
    let function_name = body
        .function_name
        .clone()
        .unwrap_or_else(|| FunctionName::for_operator_set(&set));
    body.validate(&set, &function_name)?;
    match function_status(&state.lambda, function_name.as_str()).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(ApiError::BadRequest(format!(
                "functionName: function {function_name} does not exist on the Lambda API; deploy it before registering"
            )));
        }
        Err(err) => return Err(ApiError::LambdaUnavailable(err.to_string())),
    }
    let update = PerformerUpdate {
        artifact_digest: body.artifact_digest.or(body.image_uri.as_ref().map(|i| i.digest)),
        function_name,
        function_arn: body.function_arn,
        release_id: body.release_id,
        function_version: body.function_version,
        image_uri: body.image_uri,
        status: body.status.unwrap_or_default(),
    };
    let (performer, created) = state
        .performers
        .put_performer(set, update, condition, ReleaseOutcome::Registered)
        .await?;
    state.statuses.invalidate(performer.function_name.as_str());
    let (status, message) = if created {
        (StatusCode::CREATED, "Performer registered")
    } else {
        (StatusCode::OK, "Performer updated")
    };
    Ok((
        status,
        Json(PutPerformerResponse {
            message: message.into(),
            performer,
        }),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/performers/{avs}/{opsetId}", tag = "performers",
    params(
        ("avs" = String, Path, description = "AVS address: lowercase or uppercase hex, or an EIP-55 checksum", pattern = "^0x([0-9a-f]{40}|[0-9A-F]{40})$"),
        ("opsetId" = u64, Path, description = "Operator set id", minimum = 0, maximum = 4294967295_u64),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Delete only if the entry has this revision", pattern = "^\"?[0-9]{1,19}\"?$"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DeletePerformerResponse),
        (status = 400, body = crate::model::ErrorBody),
        (status = 401, body = crate::model::ErrorBody),
        (status = 403, body = crate::model::ErrorBody),
        (status = 404, body = crate::model::ErrorBody),
        (status = 412, body = crate::model::ErrorBody),
    ))]
pub async fn delete_performer(
    State(state): State<RegistryState>,
    _writer: Writer,
    OperatorSetPath(set): OperatorSetPath,
    headers: HeaderMap,
) -> Result<Json<DeletePerformerResponse>, ApiError> {
    let condition = write_condition(&headers)?;
    let deleted = state
        .performers
        .delete_performer(set, condition)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no performer registered for {set}")))?;
    state.statuses.invalidate(deleted.function_name.as_str());
    Ok(Json(DeletePerformerResponse {
        message: "Performer deregistered".into(),
        deleted_performer: deleted,
    }))
}

#[utoipa::path(get, path = "/performers/{avs}/{opsetId}/releases", tag = "performers",
    params(
        ("avs" = String, Path, description = "AVS address: lowercase or uppercase hex, or an EIP-55 checksum", pattern = "^0x([0-9a-f]{40}|[0-9A-F]{40})$"),
        ("opsetId" = u64, Path, description = "Operator set id", minimum = 0, maximum = 4294967295_u64),
        ("limit" = Option<u32>, Query, description = "At most this many, newest first (default 100)", minimum = 1, maximum = 1000),
    ),
    responses(
        (status = 200, body = ReleaseHistory),
        (status = 400, body = crate::model::ErrorBody),
        (status = 404, body = crate::model::ErrorBody, description = "Neither a performer nor any history"),
    ))]
pub async fn release_history(
    State(state): State<RegistryState>,
    OperatorSetPath(set): OperatorSetPath,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ReleaseHistory>, ApiError> {
    let limit = query_int(&query, "limit", DEFAULT_PAGE, MAX_PAGE)?;
    let releases = state.performers.release_history(set, limit).await?;
    if releases.is_empty() && state.performers.get_performer(set).await?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no performer and no release history for {set}"
        )));
    }
    Ok(Json(ReleaseHistory {
        count: releases.len(),
        releases,
    }))
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = crate::model::ErrorBody)))]
pub async fn healthz(State(state): State<RegistryState>) -> Response {
    match state.performers.ping().await {
        Ok(()) => Json(Health { status: "ok".into() }).into_response(),
        Err(err) => quartz_telemetry::json_error(StatusCode::SERVICE_UNAVAILABLE, format!("store unavailable: {err}")),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<RegistryState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn method_not_allowed(request: axum::extract::Request) -> Response {
    quartz_telemetry::json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {} is not allowed on {}", request.method(), request.uri().path()),
    )
}
