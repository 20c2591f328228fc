//! Function definitions as the runtime keeps and persists them, and Lambda's validation rules.

use std::collections::BTreeMap;

use quartz_core::{FunctionName, PinnedImage};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::Arns;
use crate::model::{Environment, EphemeralStorage, FunctionConfiguration, ImageConfig, ImageConfigResponse};

pub const LATEST: &str = "$LATEST";
const TIMEOUT_RANGE: std::ops::RangeInclusive<i64> = 1..=900;
const MEMORY_RANGE: std::ops::RangeInclusive<i64> = 128..=10240;
const DEFAULT_ROLE: &str = "arn:aws:iam::000000000000:role/quartz-local-runtime";
/// Variables Lambda sets itself and refuses in a function's environment.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// What a version freezes: code and configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub image: PinnedImage,
    pub timeout: u32,
    pub memory: u32,
    pub environment: BTreeMap<String, String>,
    pub image_config: ImageConfig,
    pub description: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub version: String,
    pub spec: FunctionSpec,
    pub revision_id: String,
    pub last_modified: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub revision_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Pending,
    Active,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateStatus {
    InProgress,
    Successful,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    pub latest: VersionRecord,
    /// Published versions by number; immutable once created.
    pub versions: BTreeMap<u64, VersionRecord>,
    pub aliases: BTreeMap<String, AliasRecord>,
    pub tags: BTreeMap<String, String>,
    pub state: State,
    pub state_reason: Option<String>,
    pub state_reason_code: Option<String>,
    pub last_update_status: Option<UpdateStatus>,
    pub last_update_reason: Option<String>,
    pub last_update_reason_code: Option<String>,
    pub reserved_concurrency: Option<u32>,
    pub next_version: u64,
}

/// The version a qualifier resolved to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `$LATEST` or a version number: what `X-Amz-Executed-Version` reports.
    pub version: String,
    pub record: VersionRecord,
}

impl FunctionRecord {
    pub fn in_progress(&self) -> bool {
        self.state == State::Pending || self.last_update_status == Some(UpdateStatus::InProgress)
    }

    /// Resolves `$LATEST`, a version number or an alias name.
    pub fn resolve(&self, qualifier: Option<&str>, arns: &Arns) -> Result<Resolved, ApiError> {
        let not_found = |q: &str| ApiError::not_found(format!("Function not found: {}", arns.qualified(&self.name, q)));
        match qualifier {
            None | Some(LATEST) => Ok(Resolved {
                version: LATEST.into(),
                record: self.latest.clone(),
            }),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
                let number: u64 = q.parse().map_err(|_| not_found(q))?;
                let record = self.versions.get(&number).ok_or_else(|| not_found(q))?;
                Ok(Resolved {
                    version: record.version.clone(),
                    record: record.clone(),
                })
            }
            Some(q) => {
                let alias = self.aliases.get(q).ok_or_else(|| not_found(q))?;
                self.resolve(Some(alias.function_version.as_str()), arns)
            }
        }
    }

    pub fn configuration(&self, version: &VersionRecord, arns: &Arns) -> FunctionConfiguration {
        let spec = &version.spec;
        let is_latest = version.version == LATEST;
        let image_config_set = spec.image_config != ImageConfig::default();
        FunctionConfiguration {
            function_name: self.name.clone(),
            function_arn: if is_latest {
                arns.function(&self.name)
            } else {
                arns.qualified(&self.name, &version.version)
            },
            role: spec.role.clone(),
            code_size: 0,
            description: spec.description.clone(),
            timeout: spec.timeout,
            memory_size: spec.memory,
            last_modified: version.last_modified.clone(),
            code_sha256: spec.image.digest.hex(),
            version: version.version.clone(),
            environment: (!spec.environment.is_empty()).then(|| Environment {
                variables: spec.environment.clone(),
            }),
            revision_id: version.revision_id.clone(),
            package_type: "Image",
            architectures: vec!["x86_64"],
            ephemeral_storage: EphemeralStorage { size: 512 },
            image_config_response: image_config_set.then(|| ImageConfigResponse {
                image_config: spec.image_config.clone(),
            }),
            // Published versions only exist once their code was ready.
            state: if is_latest {
                format!("{:?}", self.state)
            } else {
                "Active".into()
            },
            state_reason: if is_latest { self.state_reason.clone() } else { None },
            state_reason_code: if is_latest {
                self.state_reason_code.clone()
            } else {
                None
            },
            last_update_status: if is_latest {
                self.last_update_status.map(|s| format!("{s:?}"))
            } else {
                Some("Successful".into())
            },
            last_update_status_reason: if is_latest {
                self.last_update_reason.clone()
            } else {
                None
            },
            last_update_status_reason_code: if is_latest {
                self.last_update_reason_code.clone()
            } else {
                None
            },
        }
    }
}

pub fn validate_name(name: &str) -> Result<FunctionName, ApiError> {
    name.parse::<FunctionName>().map_err(|e| {
        ApiError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: {e}"
        ))
    })
}

pub fn validate_timeout(timeout: Option<i64>, current: u32) -> Result<u32, ApiError> {
    match timeout {
        None => Ok(current),
        Some(t) if TIMEOUT_RANGE.contains(&t) => Ok(t as u32),
        Some(t) => Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{t}' at 'timeout' failed to satisfy constraint: Member must have value between 1 and 900"
        ))),
    }
}

pub fn validate_memory(memory: Option<i64>, current: u32) -> Result<u32, ApiError> {
    match memory {
        None => Ok(current),
        Some(m) if MEMORY_RANGE.contains(&m) => Ok(m as u32),
        Some(m) => Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{m}' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240"
        ))),
    }
}

pub fn validate_environment(env: Option<Environment>) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(env) = env else { return Ok(None) };
    let reserved: Vec<&str> = env
        .variables
        .keys()
        .filter(|k| RESERVED_ENV.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if !reserved.is_empty() {
        return Err(ApiError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    if let Some(bad) = env.variables.keys().find(|k| !valid_env_key(k)) {
        return Err(ApiError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variable key {bad:?} is not valid: use letters, digits and '_', starting with a letter"
        )));
    }
    Ok(Some(env.variables))
}

fn valid_env_key(key: &str) -> bool {
    key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Images are pinned by digest: a tag could change under a published version.
pub fn validate_image_uri(uri: Option<&str>) -> Result<PinnedImage, ApiError> {
    let uri = uri
        .ok_or_else(|| ApiError::invalid("Code.ImageUri is required: the local runtime runs container images only"))?;
    uri.parse::<PinnedImage>().map_err(|e| {
        ApiError::invalid(format!(
            "Source image {uri} is not valid: {e}. Provide the image pinned by digest (repository@sha256:...)"
        ))
    })
}

pub fn default_spec(image: PinnedImage) -> FunctionSpec {
    FunctionSpec {
        image,
        timeout: 3,
        memory: 128,
        environment: BTreeMap::new(),
        image_config: ImageConfig::default(),
        description: String::new(),
        role: DEFAULT_ROLE.into(),
    }
}

pub fn validate_qualifier(qualifier: &str) -> Result<(), ApiError> {
    let ok = !qualifier.is_empty()
        && qualifier.len() <= 128
        && qualifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'$' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
        )))
    }
}

pub fn validate_alias_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )))
    }
}
