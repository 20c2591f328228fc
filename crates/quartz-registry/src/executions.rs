//! The factory's executions, read from its journal: `GET /executions` (newest first, filtered
//! by `status`, `avs` + `operatorSetId`, `limit`) and `GET /executions/{id}` (steps with
//! timings, attempts and errors).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use quartz_core::{AvsAddress, OperatorSet, parse_operator_set_id};
use quartz_factory::{ExecutionDetail, ExecutionStatus, ExecutionSummary, Journal};
use serde::Serialize;

use crate::{ApiError, RegistryState};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionList {
    pub executions: Vec<ExecutionSummary>,
    pub count: usize,
}

fn bad(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("query parameter {name}: {reason}"))
}

pub async fn list_executions(
    State(state): State<RegistryState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ExecutionList>, ApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    format!("expected an integer from 1 to {MAX_LIMIT}, got {raw:?}"),
                )
            })?,
    };
    let status = query
        .get("status")
        .map(|s| {
            ExecutionStatus::parse(s)
                .ok_or_else(|| bad("status", format!("expected running, succeeded or failed, got {s:?}")))
        })
        .transpose()?;
    let set = match (query.get("avs"), query.get("operatorSetId")) {
        (None, None) => None,
        (Some(avs), Some(id)) => Some(OperatorSet::new(
            avs.parse::<AvsAddress>().map_err(|e| bad("avs", e))?,
            parse_operator_set_id(id).map_err(|e| bad("operatorSetId", e))?,
        )),
        _ => {
            return Err(ApiError::BadRequest(
                "query parameters avs and operatorSetId go together".to_string(),
            ));
        }
    };
    let executions = Journal::new(state.store.clone()).list(status, set, limit).await?;
    Ok(Json(ExecutionList {
        count: executions.len(),
        executions,
    }))
}

pub async fn get_execution(
    State(state): State<RegistryState>,
    Path(id): Path<String>,
) -> Result<Json<ExecutionDetail>, ApiError> {
    Journal::new(state.store.clone())
        .get(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("execution {id} not found")))
}
