//! The runtime's shared state: function definitions (in memory, persisted on every change),
//! images, instance pools and logs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use quartz_core::PinnedImage;
use quartz_oci::{ImageStore, OciError};
use quartz_store::Store;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

use crate::RuntimeConfig;
use crate::error::ApiError;
use crate::functions::{FunctionRecord, FunctionSpec, State, UpdateStatus};
use crate::ids::Arns;
use crate::instance::{Instance, InstanceSpec, StartError};
use crate::logs::Logs;
use crate::persist;
use crate::pool::Pools;
use crate::sandbox::{LaunchSpec, Sandbox, argv};

pub struct AppState {
    pub config: RuntimeConfig,
    pub arns: Arns,
    pub store: Store,
    pub images: ImageStore,
    pub functions: RwLock<BTreeMap<String, FunctionRecord>>,
    pub pools: Pools,
    pub logs: Logs,
    pub sandbox: Sandbox,
    pub shutdown: CancellationToken,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn not_found(&self, name: &str) -> ApiError {
        ApiError::not_found(format!("Function not found: {}", self.arns.function(name)))
    }

    pub async fn get(&self, name: &str) -> Result<FunctionRecord, ApiError> {
        self.functions
            .read()
            .await
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// Applies `change` to a copy of the function, persists it, then makes it current. Mutations
    /// are serialized by the write lock, so each sees the previous one's result.
    pub async fn mutate<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut FunctionRecord) -> Result<T, ApiError>,
    ) -> Result<(T, FunctionRecord), ApiError> {
        let mut functions = self.functions.write().await;
        let mut next = functions.get(name).cloned().ok_or_else(|| self.not_found(name))?;
        let value = change(&mut next)?;
        persist::save(&self.store, &next).await?;
        functions.insert(name.to_string(), next.clone());
        Ok((value, next))
    }

    /// Pulls and unpacks `$LATEST`'s image in the background, then settles State and
    /// LastUpdateStatus. A result for a revision that is no longer current is dropped.
    pub fn start_prepare(self: &Arc<Self>, name: String, revision_id: String, spec: FunctionSpec) {
        let state = self.clone();
        tokio::spawn(async move {
            let timeout = Duration::from_secs(state.config.pull_timeout_secs);
            let result = tokio::select! {
                () = state.shutdown.cancelled() => return,
                result = tokio::time::timeout(timeout, state.check_image(&spec)) => result
                    .unwrap_or_else(|_| Err(("ImageAccessDenied", format!("pulling the image took longer than {timeout:?}")))),
            };
            if let Err((_, reason)) = &result {
                tracing::warn!(target: "quartz::runtime", function = %name, image = %spec.image, %reason, "image preparation failed");
            } else {
                tracing::info!(target: "quartz::runtime", function = %name, image = %spec.image, "function code ready");
            }
            let settle = state.mutate(&name, |record| {
                if record.latest.revision_id != revision_id {
                    return Ok(());
                }
                let creating = record.state == State::Pending;
                match &result {
                    Ok(()) => {
                        record.state = State::Active;
                        record.state_reason = None;
                        record.state_reason_code = None;
                        record.last_update_status = Some(UpdateStatus::Successful);
                        record.last_update_reason = None;
                        record.last_update_reason_code = None;
                    }
                    Err((code, reason)) => {
                        if creating {
                            record.state = State::Failed;
                            record.state_reason = Some(reason.clone());
                            record.state_reason_code = Some((*code).to_string());
                        }
                        record.last_update_status = Some(UpdateStatus::Failed);
                        record.last_update_reason = Some(reason.clone());
                        record.last_update_reason_code = Some((*code).to_string());
                    }
                }
                Ok(())
            });
            if let Err(error) = settle.await
                && error.kind != crate::error::ErrorType::ResourceNotFound
            {
                tracing::error!(target: "quartz::runtime", function = %name, %error, "cannot record the update's outcome");
            }
        });
    }

    async fn check_image(&self, spec: &FunctionSpec) -> Result<(), (&'static str, String)> {
        let prepared = self
            .images
            .prepare(&spec.image)
            .await
            .map_err(|e| (reason_code(&e), e.to_string()))?;
        argv(&prepared.config, &spec.image_config).map_err(|e| ("InvalidImage", e))?;
        Ok(())
    }

    /// Starts a new instance of one version (a cold start).
    pub async fn start_instance(
        &self,
        function: &str,
        version: &str,
        spec: &FunctionSpec,
    ) -> Result<Instance, StartError> {
        let prepared = self
            .images
            .prepare(&spec.image)
            .await
            .map_err(|e| StartError::Spawn(e.to_string()))?;
        let (argv, handler) = argv(&prepared.config, &spec.image_config).map_err(StartError::Spawn)?;
        let workdir = spec
            .image_config
            .working_directory
            .clone()
            .or_else(|| prepared.config.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        let mut env: Vec<(String, String)> = prepared
            .config
            .env
            .iter()
            .flatten()
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        env.extend(spec.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
        let instance_spec = InstanceSpec {
            function: function.to_string(),
            version: version.to_string(),
            memory: spec.memory,
            handler,
            region: self.config.region.clone(),
            launch: LaunchSpec {
                rootfs: prepared.rootfs,
                argv,
                workdir,
                env,
            },
        };
        let init_timeout = Duration::from_secs(self.config.init_timeout_secs);
        Instance::start(
            &instance_spec,
            &self.sandbox,
            self.logs.function(function),
            init_timeout,
        )
        .await
    }
}

fn reason_code(error: &OciError) -> &'static str {
    match error {
        OciError::RegistryNotAllowed { .. } | OciError::Registry { .. } | OciError::Resolve { .. } => {
            "ImageAccessDenied"
        }
        _ => "InvalidImage",
    }
}

/// Registry checks done synchronously in CreateFunction/UpdateFunctionCode, so that a refused
/// registry is a 400 for the caller rather than a Failed function later.
pub async fn check_registry(state: &AppState, image: &PinnedImage) -> Result<(), ApiError> {
    state
        .config
        .registry_policy()
        .check(&image.repository.registry)
        .await
        .map_err(|e| ApiError::invalid(format!("Source image {image} is not allowed: {e}")))
}

/// Tags as given; Lambda limits their number.
pub fn validate_tags(tags: Option<BTreeMap<String, String>>) -> Result<BTreeMap<String, String>, ApiError> {
    let tags = tags.unwrap_or_default();
    if tags.len() > 50 {
        return Err(ApiError::invalid("a function can have at most 50 tags"));
    }
    Ok(tags)
}
