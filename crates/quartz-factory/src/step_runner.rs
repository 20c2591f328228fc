//! One step of [`WORKFLOW`](crate::workflow::WORKFLOW) on a context, outside the embedded
//! engine: what a Step Functions task runs on AWS. The engine keeps the journal and the retry
//! loop; here Step Functions does both, and this runs the very step code the engine runs.

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_lambda::Client;
use quartz_store::PerformerBackend;

use crate::context::Context;
use crate::engine;
use crate::error::StepError;
use crate::steps::{self, MakeAvailable, StepEnv};
use crate::workflow::StepId;
use crate::{FactoryConfig, FactoryError, TARGET};

pub struct StepRunner {
    env: StepEnv,
}

impl StepRunner {
    /// `work_dir` holds resolve's verified blobs (`{work_dir}/blobs`), as for [`crate::Factory`].
    pub fn new(
        config: FactoryConfig,
        lambda: Client,
        performers: Arc<dyn PerformerBackend>,
        availability: Arc<dyn MakeAvailable>,
        work_dir: PathBuf,
    ) -> Result<Self, FactoryError> {
        config.validate()?;
        Ok(Self {
            env: StepEnv::new(config, lambda, performers, availability, &work_dir),
        })
    }

    /// Runs `step` on `ctx` once and returns the context it produced. A retryable error is
    /// for the caller to retry (with the step's policy); the context is unchanged then.
    pub async fn run(&self, step: StepId, mut ctx: Context) -> Result<Context, StepError> {
        tracing::info!(target: TARGET, execution = %crate::execution_id(&ctx.release), step = step.as_str(), "step started");
        steps::run(step, &mut ctx, &self.env).await?;
        Ok(ctx)
    }

    /// The workflow's failure state: records `detail` in the registry's release history once
    /// (a repeated call finds the record); `live` is not touched.
    pub async fn record_failure(&self, ctx: &Context, detail: &str) -> Result<(), StepError> {
        tracing::error!(target: TARGET, execution = %crate::execution_id(&ctx.release), detail, "execution failed; live unchanged");
        engine::record_failure(self.env.performers.as_ref(), ctx, detail).await?;
        Ok(())
    }
}
