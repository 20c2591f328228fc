//! publish: an immutable version of exactly the code deploy left, guarded by CodeSha256 so that
//! a concurrent code change cannot slip into the version. Publishing unchanged code returns the
//! existing version, which makes the step idempotent. No description is given: the local
//! runtime compares it too when deciding whether anything changed, so a description differing
//! from $LATEST's would publish a new version on every retry.

use super::{StepEnv, needed};
use crate::context::Context;
use crate::error::StepError;
use crate::lambda::classify;

pub(super) async fn run(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let code_sha256 = needed(&ctx.code_sha256, "the deployed CodeSha256")?;
    let published = env
        .lambda
        .publish_version()
        .function_name(ctx.function_name.as_str())
        .code_sha256(code_sha256)
        .send()
        .await
        .map_err(|e| classify("PublishVersion", &e))?;
    let version = published
        .version()
        .ok_or_else(|| StepError::retryable("Publish.NoVersion", "PublishVersion returned no version"))?;
    ctx.version = Some(version.to_string());
    Ok(())
}
