//! The steps of [`crate::workflow::WORKFLOW`]. Each takes the execution's context, does its work
//! idempotently (running it again after a crash finds the work done and only reads it back),
//! and records its output in the context.

mod deploy;
mod promote;
mod publish;
mod resolve;
mod smoke;
mod validate;

use std::sync::Arc;

use aws_sdk_lambda::Client;
use quartz_oci::{BlobStore, Puller};
use quartz_store::PerformerBackend;

pub use promote::LIVE_ALIAS;
pub use resolve::{LocalAvailability, MakeAvailable, ResolvedImage};
pub use validate::choose_artifact;

use crate::FactoryConfig;
use crate::context::Context;
use crate::error::StepError;
use crate::workflow::StepId;

/// What the steps use.
pub(crate) struct StepEnv {
    pub config: FactoryConfig,
    pub lambda: Client,
    /// The registry the steps read and write: the store, or DynamoDB on AWS.
    pub performers: Arc<dyn PerformerBackend>,
    pub puller: Puller,
    pub availability: Arc<dyn MakeAvailable>,
}

/// Lambda's limit on an image's size; resolve refuses larger ones before downloading them.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024 * 1024;

impl StepEnv {
    pub fn new(
        config: FactoryConfig,
        lambda: Client,
        performers: Arc<dyn PerformerBackend>,
        availability: Arc<dyn MakeAvailable>,
        work_dir: &std::path::Path,
    ) -> Self {
        let blobs = BlobStore::new(work_dir.join("blobs"));
        let puller = Puller::new(config.registries.clone(), blobs, MAX_IMAGE_BYTES);
        Self {
            config,
            lambda,
            performers,
            puller,
            availability,
        }
    }
}

pub(crate) async fn run(step: StepId, ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    match step {
        StepId::Validate => validate::run(ctx, env).await,
        StepId::Resolve => resolve::resolve(ctx, env).await,
        StepId::MakeAvailable => resolve::make_available(ctx, env).await,
        StepId::Deploy => deploy::run(ctx, env).await,
        StepId::Publish => publish::run(ctx, env).await,
        StepId::SmokeCheck => smoke::run(ctx, env).await,
        StepId::Promote => promote::promote(ctx, env).await,
        StepId::Register => promote::register(ctx, env).await,
    }
}

/// A value an earlier step must have put in the context; missing means a journal from another
/// version of Quartz, which retrying cannot fix.
pub(crate) fn needed<'a, T>(value: &'a Option<T>, what: &str) -> Result<&'a T, StepError> {
    value.as_ref().ok_or_else(|| {
        StepError::fatal(
            "Factory.MissingContext",
            format!("{what} was not set by an earlier step"),
        )
    })
}
