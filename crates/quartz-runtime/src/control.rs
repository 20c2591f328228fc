//! The Lambda control API: functions, versions, aliases and concurrency.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorType};
use crate::functions::{
    AliasRecord, FunctionRecord, FunctionSpec, LATEST, State as FnState, UpdateStatus, VersionRecord, default_spec,
    validate_alias_name, validate_environment, validate_image_uri, validate_memory, validate_name, validate_qualifier,
    validate_timeout,
};
use crate::ids::{last_modified_now, parse_function_ref, revision_id};
use crate::model::*;
use crate::persist;
use crate::state::{SharedState, check_registry, validate_tags};

type ApiResult = Result<Response, ApiError>;

/// A JSON body, with Lambda's error for one that does not parse.
fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|e| {
        ApiError::new(
            ErrorType::InvalidParameterValue,
            format!("invalid request body: {}", e.body_text()),
        )
    })
}

fn name_of(path: &str) -> Result<(String, Option<String>), ApiError> {
    let (name, qualifier) = parse_function_ref(path);
    validate_name(&name)?;
    if let Some(q) = &qualifier {
        validate_qualifier(q)?;
    }
    Ok((name, qualifier))
}

fn conflict_in_progress(state: &SharedState, record: &FunctionRecord) -> ApiError {
    let arn = state.arns.function(&record.name);
    if record.state == FnState::Pending {
        ApiError::conflict(format!(
            "The operation cannot be performed at this time. The function is currently in the following state: Pending ({arn})"
        ))
    } else {
        ApiError::conflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
        ))
    }
}

fn check_revision(expected: Option<&str>, actual: &str) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != actual => Err(ApiError::new(
            ErrorType::PreconditionFailed,
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

fn reject_zip(zip: &Option<String>, s3: &Option<String>) -> Result<(), ApiError> {
    if zip.is_some() || s3.is_some() {
        return Err(ApiError::invalid(
            "The local runtime supports PackageType Image only; provide ImageUri",
        ));
    }
    Ok(())
}

fn check_architectures(architectures: &Option<Vec<String>>) -> Result<(), ApiError> {
    match architectures.as_deref() {
        None | Some([]) => Ok(()),
        Some([arch]) if arch == "x86_64" => Ok(()),
        Some(other) => Err(ApiError::invalid(format!(
            "unsupported Architectures {other:?}: the local runtime runs x86_64"
        ))),
    }
}

pub async fn create_function(
    State(state): State<SharedState>,
    req: Result<Json<CreateFunctionRequest>, JsonRejection>,
) -> ApiResult {
    let req = body(req)?;
    let name = validate_name(&req.function_name)?.to_string();
    if req.package_type.as_deref().is_some_and(|p| p != "Image") || req.runtime.is_some() {
        return Err(ApiError::invalid("The local runtime supports PackageType Image only"));
    }
    reject_zip(&req.code.zip_file, &req.code.s3_bucket)?;
    check_architectures(&req.architectures)?;
    let image = validate_image_uri(req.code.image_uri.as_deref())?;
    let mut spec = default_spec(image);
    spec.timeout = validate_timeout(req.timeout, spec.timeout)?;
    spec.memory = validate_memory(req.memory_size, spec.memory)?;
    spec.environment = validate_environment(req.environment)?.unwrap_or_default();
    spec.image_config = req.image_config.unwrap_or_default();
    spec.description = req.description.unwrap_or_default();
    if let Some(role) = req.role {
        spec.role = role;
    }
    let tags = validate_tags(req.tags)?;
    check_registry(&state, &spec.image).await?;

    let latest = VersionRecord {
        version: LATEST.into(),
        spec: spec.clone(),
        revision_id: revision_id(),
        last_modified: last_modified_now(),
    };
    let record = FunctionRecord {
        name: name.clone(),
        latest: latest.clone(),
        versions: BTreeMap::new(),
        aliases: BTreeMap::new(),
        tags,
        state: FnState::Pending,
        state_reason: Some("The function is being created.".into()),
        state_reason_code: Some("Creating".into()),
        last_update_status: Some(UpdateStatus::InProgress),
        last_update_reason: None,
        last_update_reason_code: None,
        reserved_concurrency: None,
        next_version: 1,
    };
    {
        let mut functions = state.functions.write().await;
        if functions.contains_key(&name) {
            return Err(ApiError::conflict(format!("Function already exist: {name}")));
        }
        persist::save(&state.store, &record).await?;
        functions.insert(name.clone(), record.clone());
    }
    tracing::info!(target: "quartz::runtime", function = %name, image = %spec.image, "function created");
    state.start_prepare(name, latest.revision_id.clone(), spec);
    if req.publish {
        tracing::warn!(target: "quartz::runtime", "Publish on CreateFunction is ignored until the code is ready; call PublishVersion");
    }
    Ok((
        StatusCode::CREATED,
        Json(record.configuration(&record.latest, &state.arns)),
    )
        .into_response())
}

pub async fn get_function(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> ApiResult {
    let (name, path_qualifier) = name_of(&function)?;
    let qualifier = qualifier(path_qualifier, query.qualifier)?;
    let record = state.get(&name).await?;
    let resolved = record.resolve(qualifier.as_deref(), &state.arns)?;
    let image = resolved.record.spec.image.to_string();
    Ok(Json(GetFunctionResponse {
        configuration: record.configuration(&resolved.record, &state.arns),
        code: FunctionCodeLocation {
            repository_type: "ECR",
            image_uri: image.clone(),
            resolved_image_uri: image,
        },
        tags: record.tags.clone(),
        concurrency: record.reserved_concurrency.map(|c| Concurrency {
            reserved_concurrent_executions: Some(i64::from(c)),
        }),
    })
    .into_response())
}

/// The qualifier from the path (`name:qualifier`) or the query, which must agree when both are given.
pub fn qualifier(from_path: Option<String>, from_query: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(q) = &from_query {
        validate_qualifier(q)?;
    }
    match (from_path, from_query) {
        (Some(a), Some(b)) if a != b => Err(ApiError::invalid(
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

pub async fn get_configuration(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> ApiResult {
    let (name, path_qualifier) = name_of(&function)?;
    let qualifier = qualifier(path_qualifier, query.qualifier)?;
    let record = state.get(&name).await?;
    let resolved = record.resolve(qualifier.as_deref(), &state.arns)?;
    Ok(Json(record.configuration(&resolved.record, &state.arns)).into_response())
}

pub async fn update_code(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    req: Result<Json<UpdateFunctionCodeRequest>, JsonRejection>,
) -> ApiResult {
    let req = body(req)?;
    let (name, _) = name_of(&function)?;
    reject_zip(&req.zip_file, &req.s3_bucket)?;
    check_architectures(&req.architectures)?;
    let image = validate_image_uri(req.image_uri.as_deref())?;
    check_registry(&state, &image).await?;
    if req.dry_run {
        let record = state.get(&name).await?;
        return Ok(Json(record.configuration(&record.latest, &state.arns)).into_response());
    }
    let prepare = state.clone();
    let ((), record) = state
        .mutate(&name, |record| {
            if record.in_progress() {
                return Err(conflict_in_progress(&prepare, record));
            }
            check_revision(req.revision_id.as_deref(), &record.latest.revision_id)?;
            record.latest.spec.image = image;
            record.latest.revision_id = revision_id();
            record.latest.last_modified = last_modified_now();
            record.last_update_status = Some(UpdateStatus::InProgress);
            record.last_update_reason = None;
            record.last_update_reason_code = None;
            Ok(())
        })
        .await?;
    state.pools.retire(&name, |key| key.version != LATEST);
    tracing::info!(target: "quartz::runtime", function = %name, image = %record.latest.spec.image, "function code updating");
    state.start_prepare(name, record.latest.revision_id.clone(), record.latest.spec.clone());
    if req.publish {
        tracing::warn!(target: "quartz::runtime", "Publish on UpdateFunctionCode is ignored until the code is ready; call PublishVersion");
    }
    Ok(Json(record.configuration(&record.latest, &state.arns)).into_response())
}

pub async fn update_configuration(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    req: Result<Json<UpdateFunctionConfigurationRequest>, JsonRejection>,
) -> ApiResult {
    let req = body(req)?;
    let (name, _) = name_of(&function)?;
    if req.runtime.is_some() || req.handler.is_some() {
        return Err(ApiError::invalid(
            "Runtime and Handler do not apply to PackageType Image functions",
        ));
    }
    let environment = validate_environment(req.environment)?;
    let conflict_state = state.clone();
    let ((), record) = state
        .mutate(&name, |record| {
            if record.in_progress() {
                return Err(conflict_in_progress(&conflict_state, record));
            }
            check_revision(req.revision_id.as_deref(), &record.latest.revision_id)?;
            let spec = &mut record.latest.spec;
            spec.timeout = validate_timeout(req.timeout, spec.timeout)?;
            spec.memory = validate_memory(req.memory_size, spec.memory)?;
            if let Some(env) = environment {
                spec.environment = env;
            }
            if let Some(image_config) = req.image_config {
                spec.image_config = image_config;
            }
            if let Some(description) = req.description {
                spec.description = description;
            }
            if let Some(role) = req.role {
                spec.role = role;
            }
            record.latest.revision_id = revision_id();
            record.latest.last_modified = last_modified_now();
            // Nothing to fetch: the update completes at once.
            record.last_update_status = Some(UpdateStatus::Successful);
            Ok(())
        })
        .await?;
    state.pools.retire(&name, |key| key.version != LATEST);
    Ok(Json(record.configuration(&record.latest, &state.arns)).into_response())
}

pub async fn publish_version(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    req: Result<Json<PublishVersionRequest>, JsonRejection>,
) -> ApiResult {
    let req = body(req)?;
    let (name, _) = name_of(&function)?;
    let conflict_state = state.clone();
    let (version, record) = state
        .mutate(&name, |record| {
            if record.in_progress() {
                return Err(conflict_in_progress(&conflict_state, record));
            }
            if record.last_update_status == Some(UpdateStatus::Failed) || record.state == FnState::Failed {
                return Err(ApiError::conflict(format!(
                    "The function's last update failed ({}); fix the code before publishing",
                    record.last_update_reason.clone().unwrap_or_default()
                )));
            }
            check_revision(req.revision_id.as_deref(), &record.latest.revision_id)?;
            if let Some(sha) = &req.code_sha256
                && *sha != record.latest.spec.image.digest.hex()
            {
                return Err(ApiError::invalid(format!(
                    "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                    record.latest.spec.image.digest.hex()
                )));
            }
            // Unchanged code and configuration since the last version: that version is the answer.
            // A version's own description is not part of what changed (Lambda ignores it too),
            // or a retried publish with a description would mint a new version every time.
            if let Some((_, last)) = record.versions.last_key_value()
                && same_but_description(&last.spec, &record.latest.spec)
            {
                return Ok(last.clone());
            }
            let number = record.next_version;
            record.next_version += 1;
            let mut spec = record.latest.spec.clone();
            if let Some(description) = &req.description {
                spec.description = description.clone();
            }
            let version = VersionRecord {
                version: number.to_string(),
                spec,
                revision_id: revision_id(),
                last_modified: last_modified_now(),
            };
            record.versions.insert(number, version.clone());
            Ok(version)
        })
        .await?;
    tracing::info!(target: "quartz::runtime", function = %name, version = %version.version, "version published");
    Ok((StatusCode::CREATED, Json(record.configuration(&version, &state.arns))).into_response())
}

fn same_but_description(version: &FunctionSpec, latest: &FunctionSpec) -> bool {
    let mut comparable = version.clone();
    comparable.description.clone_from(&latest.description);
    comparable == *latest
}

fn page<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> String,
    query: &ListQuery,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = query.max_items.unwrap_or(50);
    if !(1..=10_000).contains(&max) {
        return Err(ApiError::invalid("MaxItems must be between 1 and 10000"));
    }
    let start = match &query.marker {
        None => 0,
        Some(marker) => items
            .iter()
            .position(|i| key(i) == *marker)
            .map(|p| p + 1)
            .ok_or_else(|| ApiError::invalid("invalid Marker"))?,
    };
    let chunk: Vec<T> = items.iter().skip(start).take(max).cloned().collect();
    let next = (start + chunk.len() < items.len())
        .then(|| chunk.last().map(&key))
        .flatten();
    Ok((chunk, next))
}

pub async fn list_versions(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult {
    let (name, _) = name_of(&function)?;
    let record = state.get(&name).await?;
    let all: Vec<VersionRecord> = std::iter::once(record.latest.clone())
        .chain(record.versions.values().cloned())
        .collect();
    let (chunk, next_marker) = page(&all, |v| v.version.clone(), &query)?;
    let versions = chunk.iter().map(|v| record.configuration(v, &state.arns)).collect();
    Ok(Json(ListVersionsResponse { versions, next_marker }).into_response())
}

pub async fn list_functions(State(state): State<SharedState>, Query(query): Query<ListQuery>) -> ApiResult {
    let records: Vec<FunctionRecord> = state.functions.read().await.values().cloned().collect();
    let (chunk, next_marker) = page(&records, |r| r.name.clone(), &query)?;
    let functions = chunk.iter().map(|r| r.configuration(&r.latest, &state.arns)).collect();
    Ok(Json(ListFunctionsResponse { functions, next_marker }).into_response())
}

pub async fn delete_function(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> ApiResult {
    let (name, path_qualifier) = name_of(&function)?;
    match qualifier(path_qualifier, query.qualifier)? {
        None => {
            let mut functions = state.functions.write().await;
            if functions.remove(&name).is_none() {
                return Err(state.not_found(&name));
            }
            persist::delete(&state.store, &name).await?;
            drop(functions);
            state.pools.forget(&name);
            tracing::info!(target: "quartz::runtime", function = %name, "function deleted");
        }
        Some(q) if q == LATEST => {
            return Err(ApiError::invalid(
                "$LATEST version cannot be deleted without deleting the function.",
            ));
        }
        Some(q) => {
            let number: u64 = q
                .parse()
                .map_err(|_| ApiError::invalid(format!("{q} is not a version number")))?;
            state
                .mutate(&name, |record| {
                    if let Some(alias) = record.aliases.values().find(|a| a.function_version == q) {
                        return Err(ApiError::conflict(format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            alias.name
                        )));
                    }
                    record.versions.remove(&number).map(|_| ()).ok_or_else(|| {
                        ApiError::not_found(format!("Function not found: {}", state.arns.qualified(&name, &q)))
                    })
                })
                .await?;
            state.pools.retire(&name, |key| key.version != q);
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn alias_config(state: &SharedState, function: &str, alias: &AliasRecord) -> AliasConfiguration {
    AliasConfiguration {
        alias_arn: state.arns.qualified(function, &alias.name),
        name: alias.name.clone(),
        function_version: alias.function_version.clone(),
        description: alias.description.clone(),
        revision_id: alias.revision_id.clone(),
    }
}

fn check_alias_target(record: &FunctionRecord, version: &str, state: &SharedState) -> Result<(), ApiError> {
    if version == LATEST {
        return Ok(());
    }
    let exists = version
        .parse::<u64>()
        .ok()
        .is_some_and(|n| record.versions.contains_key(&n));
    if exists {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "Function not found: {}",
            state.arns.qualified(&record.name, version)
        )))
    }
}

fn reject_routing(routing: &Option<serde_json::Value>) -> Result<(), ApiError> {
    let weighted = routing
        .as_ref()
        .and_then(|r| r.get("AdditionalVersionWeights"))
        .and_then(|w| w.as_object());
    if weighted.is_some_and(|w| !w.is_empty()) {
        return Err(ApiError::invalid(
            "weighted alias routing is not supported by the local runtime",
        ));
    }
    Ok(())
}

pub async fn create_alias(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    req: Result<Json<CreateAliasRequest>, JsonRejection>,
) -> ApiResult {
    let req = body(req)?;
    let (name, _) = name_of(&function)?;
    validate_alias_name(&req.name)?;
    reject_routing(&req.routing_config)?;
    let check_state = state.clone();
    let (alias, _) = state
        .mutate(&name, |record| {
            if record.aliases.contains_key(&req.name) {
                return Err(ApiError::conflict(format!(
                    "Alias already exists: {}",
                    check_state.arns.qualified(&name, &req.name)
                )));
            }
            check_alias_target(record, &req.function_version, &check_state)?;
            let alias = AliasRecord {
                name: req.name.clone(),
                function_version: req.function_version.clone(),
                description: req.description.clone().unwrap_or_default(),
                revision_id: revision_id(),
            };
            record.aliases.insert(alias.name.clone(), alias.clone());
            Ok(alias)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(alias_config(&state, &name, &alias))).into_response())
}

fn alias_not_found(state: &SharedState, name: &str, alias: &str) -> ApiError {
    ApiError::not_found(format!("Cannot find alias arn: {}", state.arns.qualified(name, alias)))
}

pub async fn get_alias(State(state): State<SharedState>, Path((function, alias)): Path<(String, String)>) -> ApiResult {
    let (name, _) = name_of(&function)?;
    let record = state.get(&name).await?;
    let found = record
        .aliases
        .get(&alias)
        .ok_or_else(|| alias_not_found(&state, &name, &alias))?;
    Ok(Json(alias_config(&state, &name, found)).into_response())
}

pub async fn list_aliases(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult {
    let (name, _) = name_of(&function)?;
    let record = state.get(&name).await?;
    let all: Vec<AliasRecord> = record.aliases.values().cloned().collect();
    let (chunk, next_marker) = page(&all, |a| a.name.clone(), &query)?;
    let aliases = chunk.iter().map(|a| alias_config(&state, &name, a)).collect();
    Ok(Json(ListAliasesResponse { aliases, next_marker }).into_response())
}

pub async fn update_alias(
    State(state): State<SharedState>,
    Path((function, alias_name)): Path<(String, String)>,
    req: Result<Json<UpdateAliasRequest>, JsonRejection>,
) -> ApiResult {
    let req = body(req)?;
    let (name, _) = name_of(&function)?;
    reject_routing(&req.routing_config)?;
    let check_state = state.clone();
    let (alias, _) = state
        .mutate(&name, |record| {
            if let Some(version) = &req.function_version {
                check_alias_target(record, version, &check_state)?;
            }
            let alias = record
                .aliases
                .get_mut(&alias_name)
                .ok_or_else(|| alias_not_found(&check_state, &name, &alias_name))?;
            check_revision(req.revision_id.as_deref(), &alias.revision_id)?;
            if let Some(version) = &req.function_version {
                alias.function_version = version.clone();
            }
            if let Some(description) = &req.description {
                alias.description = description.clone();
            }
            alias.revision_id = revision_id();
            Ok(alias.clone())
        })
        .await?;
    tracing::info!(target: "quartz::runtime", function = %name, alias = %alias.name, version = %alias.function_version, "alias updated");
    Ok(Json(alias_config(&state, &name, &alias)).into_response())
}

pub async fn delete_alias(
    State(state): State<SharedState>,
    Path((function, alias)): Path<(String, String)>,
) -> ApiResult {
    let (name, _) = name_of(&function)?;
    state.mutate(&name, |record| Ok(record.aliases.remove(&alias))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn put_concurrency(
    State(state): State<SharedState>,
    Path(function): Path<String>,
    req: Result<Json<Concurrency>, JsonRejection>,
) -> ApiResult {
    let req = body(req)?;
    let (name, _) = name_of(&function)?;
    let limit = req
        .reserved_concurrent_executions
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= 1000)
        .ok_or_else(|| ApiError::invalid("ReservedConcurrentExecutions must be between 0 and 1000"))?;
    state
        .mutate(&name, |record| {
            record.reserved_concurrency = Some(limit);
            Ok(())
        })
        .await?;
    Ok(Json(Concurrency {
        reserved_concurrent_executions: Some(i64::from(limit)),
    })
    .into_response())
}

pub async fn get_concurrency(State(state): State<SharedState>, Path(function): Path<String>) -> ApiResult {
    let (name, _) = name_of(&function)?;
    let record = state.get(&name).await?;
    Ok(Json(Concurrency {
        reserved_concurrent_executions: record.reserved_concurrency.map(i64::from),
    })
    .into_response())
}

pub async fn delete_concurrency(State(state): State<SharedState>, Path(function): Path<String>) -> ApiResult {
    let (name, _) = name_of(&function)?;
    state
        .mutate(&name, |record| {
            record.reserved_concurrency = None;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn unknown_operation() -> ApiError {
    ApiError::new(
        ErrorType::UnknownOperation,
        "The local runtime does not implement this operation",
    )
}
