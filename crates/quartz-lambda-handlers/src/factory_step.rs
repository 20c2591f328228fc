//! The factory-step function: one state of the `quartz-factory` state machine per invocation.
//!
//! In: `{"step": <step id>, "context": <Context>}` (a step), or `{"step": "record-failure",
//! "context", "error": {"Error", "Cause"}}` (the state the `Catch` of every step leads to).
//! Out: `{"context": <Context>}`. A failed step is a function error whose `errorType` is
//! `Quartz.Retryable` (the state's `Retry` takes it) or `Quartz.Final`; a bad event is
//! `Quartz.InvalidInput`. Both of the latter go to the failure state through `Catch`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use quartz_aws::{DynamoRegistry, MirrorAvailability};
use quartz_factory::workflow::{StepId, WORKFLOW};
use quartz_factory::{Context, FactoryConfig, MAX_IMAGE_BYTES, MakeAvailable, StepRunner};
use quartz_oci::{BlobStore, Puller};
use quartz_store::PerformerBackend;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::settings::{Common, FactoryStepSettings};
use crate::{HandlerError, TARGET};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepEvent {
    step: String,
    context: Value,
    /// Only for the failure state: what `Catch` put under `$.error`.
    #[serde(default)]
    error: Option<Value>,
}

pub struct FactoryStepHandler {
    runner: StepRunner,
}

impl FactoryStepHandler {
    pub fn new(runner: StepRunner) -> Self {
        Self { runner }
    }

    /// As deployed: the registry in DynamoDB, images mirrored into ECR, blobs under `work_dir`
    /// (the function's `/tmp`), performers created with the one performer role.
    pub async fn from_settings(
        common: &Common,
        settings: &FactoryStepSettings,
        work_dir: PathBuf,
    ) -> Result<Self, HandlerError> {
        let sdk = common.aws.load().await;
        let mut config = FactoryConfig::default();
        config.function.role_arn = settings.performer_role_arn.clone();
        config.registries = settings.registries.clone();
        // The smoke check invokes the new version synchronously, up to its own timeout.
        let read_timeout = Duration::from_secs(u64::from(config.function.timeout_secs) + 30);
        let lambda = quartz_lambda_client::build_client(
            &quartz_lambda_client::LambdaClientConfig {
                endpoint: common.aws.endpoint.clone(),
                region: common.aws.region.clone(),
            },
            read_timeout,
        )
        .await;
        // The mirror reads what resolve verified from the same blob store; a cold instance
        // that did not run resolve fetches (and verifies) them again.
        let puller = Puller::new(
            config.registries.clone(),
            BlobStore::new(work_dir.join("blobs")),
            MAX_IMAGE_BYTES,
        );
        let availability: Arc<dyn MakeAvailable> =
            Arc::new(MirrorAvailability::ecr(&sdk, puller, settings.ecr_repository.clone()));
        let performers: Arc<dyn PerformerBackend> = Arc::new(DynamoRegistry::new(&sdk, common.tables.clone()));
        let runner = StepRunner::new(config, lambda, performers, availability, work_dir)?;
        Ok(Self::new(runner))
    }

    pub async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        let event: StepEvent = serde_json::from_value(event).map_err(|e| {
            HandlerError::InvalidInput(format!(
                "expected {{\"step\", \"context\"}} from the state machine: {e}"
            ))
        })?;
        let context: Context =
            serde_json::from_value(event.context).map_err(|e| HandlerError::InvalidInput(format!("context: {e}")))?;
        if event.step == WORKFLOW.on_failure {
            let detail = failure_detail(event.error.as_ref());
            self.runner
                .record_failure(&context, &detail)
                .await
                .map_err(|e| HandlerError::step(WORKFLOW.on_failure, e))?;
            return Ok(json!({ "context": context }));
        }
        let step = StepId::parse(&event.step).ok_or_else(|| {
            let known: Vec<&str> = StepId::ALL.iter().map(|s| s.as_str()).collect();
            HandlerError::InvalidInput(format!(
                "unknown step {:?}; expected one of {} or {}",
                event.step,
                known.join(", "),
                WORKFLOW.on_failure
            ))
        })?;
        match self.runner.run(step, context).await {
            Ok(context) => Ok(json!({ "context": context })),
            Err(error) => {
                tracing::warn!(target: TARGET, step = step.as_str(), %error, "step failed");
                Err(HandlerError::step(step.as_str(), error))
            }
        }
    }
}

/// What the failure state records: for a step's own error, its message (already
/// `{step}: {errorType}: {message}`, as the embedded engine records); for anything else Step
/// Functions caught (a Lambda or States error), its name and cause.
fn failure_detail(error: Option<&Value>) -> String {
    let Some(error) = error else {
        return "the state machine reported a failure without an error".into();
    };
    let name = error.get("Error").and_then(Value::as_str).unwrap_or("Unknown");
    let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
    // A function error's Cause is the function's {errorType, errorMessage} as JSON text.
    let parsed: Option<Value> = serde_json::from_str(cause).ok();
    match parsed
        .as_ref()
        .and_then(|c| c.get("errorMessage"))
        .and_then(Value::as_str)
    {
        Some(message) if name.starts_with("Quartz.") => message.to_string(),
        Some(message) => format!("{name}: {message}"),
        None if cause.is_empty() => name.to_string(),
        None => format!("{name}: {cause}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_detail_is_the_steps_own_or_names_what_step_functions_caught() {
        let ours = json!({"Error": "Quartz.Final", "Cause": r#"{"errorType":"Quartz.Final","errorMessage":"validate: Release.Downgrade: older"}"#});
        assert_eq!(failure_detail(Some(&ours)), "validate: Release.Downgrade: older");
        let timeout = json!({"Error": "States.Timeout", "Cause": ""});
        assert_eq!(failure_detail(Some(&timeout)), "States.Timeout");
        let lambda = json!({"Error": "Lambda.Unknown", "Cause": "The function timed out"});
        assert_eq!(failure_detail(Some(&lambda)), "Lambda.Unknown: The function timed out");
    }
}
