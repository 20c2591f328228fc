//! Quartz's control plane as Lambda functions, from the same Rust code as `quartz up`: one
//! binary (`bootstrap` on `provided.al2023`), speaking the Lambda Runtime API through
//! `lambda_runtime`, told which handler it is by `QUARTZ_HANDLER`:
//!
//! - `monitor` ([`MonitorHandler`]): scheduled; `ReleasePublished` logs from the checkpoint to
//!   the safe head → one Step Functions execution per release, then the checkpoint; reconciles
//!   the registry's sets against `getLatestRelease`;
//! - `factory-step` ([`FactoryStepHandler`]): one state of the factory's state machine, running
//!   the factory's own step code ([`quartz_factory::StepRunner`]) on DynamoDB and ECR;
//! - `registry-api` ([`RegistryApiHandler`]): API Gateway REST proxy events into the registry's
//!   axum router over DynamoDB.
//!
//! The environment each gets is the CloudFormation template's (`quartz synth`); see
//! [`settings`].

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod factory_step;
pub mod monitor;
mod registry_api;
pub mod settings;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

pub use error::{HandlerError, INVALID_INPUT};
pub use factory_step::FactoryStepHandler;
pub use monitor::{MonitorHandler, MonitorRun};
pub use registry_api::RegistryApiHandler;
use settings::{Common, FactoryStepSettings, Handler, MonitorSettings};

pub(crate) const TARGET: &str = "quartz::lambda";

/// How long before the function's timeout the monitor stops starting new work, leaving time to
/// advance the checkpoint of the chunk in hand and to answer.
pub const MONITOR_DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The handler the environment names, ready to take events.
pub enum Handlers {
    Monitor(Box<MonitorHandler>),
    FactoryStep(Box<FactoryStepHandler>),
    RegistryApi(Box<RegistryApiHandler>),
}

impl Handlers {
    /// Builds the handler from `get` (the process environment in [`run`]); `work_dir` is where
    /// the factory keeps blobs and the registry its empty store (Lambda's `/tmp`).
    pub async fn from_lookup(get: &dyn Fn(&str) -> Option<String>, work_dir: PathBuf) -> Result<Self, HandlerError> {
        let common = Common::from_lookup(get)?;
        Ok(match common.handler {
            Handler::Monitor => {
                let settings = MonitorSettings::from_lookup(get)?;
                Self::Monitor(Box::new(MonitorHandler::from_settings(&common, settings).await?))
            }
            Handler::FactoryStep => {
                let settings = FactoryStepSettings::from_lookup(get)?;
                Self::FactoryStep(Box::new(
                    FactoryStepHandler::from_settings(&common, &settings, work_dir.join("factory")).await?,
                ))
            }
            Handler::RegistryApi => {
                let dir = work_dir.join("registry");
                std::fs::create_dir_all(&dir).map_err(|e| HandlerError::Env {
                    name: "TMPDIR",
                    reason: format!("cannot create {}: {e}", dir.display()),
                })?;
                Self::RegistryApi(Box::new(RegistryApiHandler::from_settings(&common, &dir).await?))
            }
        })
    }

    /// One invocation. `deadline_ms` is the invocation's deadline (Unix milliseconds), which
    /// bounds the monitor's work.
    pub async fn handle(&self, event: Value, deadline_ms: u64) -> Result<Value, HandlerError> {
        match self {
            Self::Monitor(h) => {
                let run = h.run(deadline_from(deadline_ms)).await?;
                Ok(serde_json::to_value(run).unwrap_or(Value::Null))
            }
            Self::FactoryStep(h) => h.handle(event).await,
            Self::RegistryApi(h) => {
                let response = h.handle(event).await?;
                serde_json::to_value(response).map_err(|e| HandlerError::InvalidInput(e.to_string()))
            }
        }
    }
}

/// The instant [`MONITOR_DEADLINE_MARGIN`] before the invocation's deadline.
fn deadline_from(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    Instant::now() + left.saturating_sub(MONITOR_DEADLINE_MARGIN)
}

/// The function's main loop: builds the handler `QUARTZ_HANDLER` names from the environment
/// and serves invocations through the Lambda Runtime API until the runtime stops it.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let get = |name: &str| std::env::var(name).ok();
    let work_dir = std::env::temp_dir().join("quartz");
    let handlers = Handlers::from_lookup(&get, work_dir).await?;
    let handlers = &handlers;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers
            .handle(event.payload, event.context.deadline)
            .await
            .map_err(Diagnostic::from)
    }))
    .await
}
