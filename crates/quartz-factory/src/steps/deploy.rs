//! deploy: create or update the function, pinned to the digest, and wait until it settles.
//! Code and configuration are separate updates, each waited for, because Lambda refuses an
//! update while another is in progress (the seed's defect 5).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_lambda::operation::create_function::CreateFunctionError;
use aws_sdk_lambda::operation::get_function::GetFunctionError;
use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
use aws_sdk_lambda::types::{Environment, FunctionCode, LastUpdateStatus, PackageType, State};

use super::{StepEnv, needed};
use crate::context::Context;
use crate::error::StepError;
use crate::lambda::classify;

/// The tag (and value) that marks functions Quartz manages.
pub const MANAGED_BY: (&str, &str) = ("managed-by", "quartz");

pub(super) async fn run(ctx: &mut Context, env: &StepEnv) -> Result<(), StepError> {
    let name = ctx.function_name.as_str().to_string();
    let image_uri = needed(&ctx.deploy_image_uri, "the image to deploy")?.clone();
    let set = ctx.set();
    let (timeout, memory) = env.config.settings_for(set.avs, set.id);
    let variables = HashMap::from([
        ("AVS_ADDRESS".to_string(), set.avs.to_string()),
        ("OPERATOR_SET_ID".to_string(), set.id.to_string()),
        ("RELEASE_ID".to_string(), ctx.release.release_id.to_string()),
    ]);
    let environment = Environment::builder().set_variables(Some(variables.clone())).build();

    let existing = match env.lambda.get_function().function_name(&name).send().await {
        Ok(found) => Some(found),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetFunctionError::ResourceNotFoundException(_))
            ) =>
        {
            None
        }
        Err(e) => return Err(classify("GetFunction", &e)),
    };
    let current_image = match existing {
        Some(found) => found.code().and_then(|c| c.image_uri()).map(str::to_string),
        None => {
            let created = env
                .lambda
                .create_function()
                .function_name(&name)
                .role(&env.config.function.role_arn)
                .package_type(PackageType::Image)
                .code(FunctionCode::builder().image_uri(&image_uri).build())
                .timeout(timeout as i32)
                .memory_size(memory as i32)
                .environment(environment.clone())
                .description(format!("Quartz performer for {set}"))
                .tags("avs-address", set.avs.to_string())
                .tags("operator-set-id", set.id.to_string())
                .tags("release-id", ctx.release.release_id.to_string())
                .tags(MANAGED_BY.0, MANAGED_BY.1)
                .send()
                .await;
            match created {
                Ok(_) => Some(image_uri.clone()),
                // Created by an attempt that died before journaling it: update it instead.
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(CreateFunctionError::ResourceConflictException(_))
                    ) =>
                {
                    None
                }
                Err(e) => return Err(classify("CreateFunction", &e)),
            }
        }
    };

    let mut settled = wait_settled(env, &name).await?;
    if current_image.as_deref() != Some(image_uri.as_str()) {
        env.lambda
            .update_function_code()
            .function_name(&name)
            .image_uri(&image_uri)
            .send()
            .await
            .map_err(|e| classify("UpdateFunctionCode", &e))?;
        settled = wait_settled(env, &name).await?;
    }
    let current_vars = settled
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    if settled.timeout() != Some(timeout as i32)
        || settled.memory_size() != Some(memory as i32)
        || current_vars != variables
    {
        env.lambda
            .update_function_configuration()
            .function_name(&name)
            .timeout(timeout as i32)
            .memory_size(memory as i32)
            .environment(environment)
            .send()
            .await
            .map_err(|e| classify("UpdateFunctionConfiguration", &e))?;
        settled = wait_settled(env, &name).await?;
    }
    ctx.function_arn = settled.function_arn().map(str::to_string);
    ctx.code_sha256 = Some(
        settled
            .code_sha256()
            .ok_or_else(|| StepError::retryable("Deploy.NoCodeSha256", format!("{name} reports no CodeSha256")))?
            .to_string(),
    );
    Ok(())
}

/// Polls GetFunctionConfiguration until neither creation nor an update is in progress, with a
/// growing interval; a function that failed to become Active is a final error with Lambda's reason.
pub(crate) async fn wait_settled(env: &StepEnv, name: &str) -> Result<GetFunctionConfigurationOutput, StepError> {
    let deadline = Instant::now() + env.config.settle_timeout();
    let mut interval = Duration::from_millis(100);
    loop {
        let config = env
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| classify("GetFunctionConfiguration", &e))?;
        if config.state() == Some(&State::Failed) {
            return Err(StepError::fatal(
                "Deploy.FunctionFailed",
                format!(
                    "{name} failed to become active: {}",
                    config.state_reason().unwrap_or("no reason given")
                ),
            ));
        }
        if config.last_update_status() == Some(&LastUpdateStatus::Failed) {
            return Err(StepError::fatal(
                "Deploy.UpdateFailed",
                format!(
                    "the update of {name} failed: {}",
                    config.last_update_status_reason().unwrap_or("no reason given")
                ),
            ));
        }
        let pending = config.state() == Some(&State::Pending)
            || config.last_update_status() == Some(&LastUpdateStatus::InProgress);
        if !pending {
            return Ok(config);
        }
        if Instant::now() >= deadline {
            return Err(StepError::retryable(
                "Deploy.NotSettled",
                format!(
                    "{name} still in progress after {} s (factory.settle_timeout_secs)",
                    env.config.settle_timeout_secs
                ),
            ));
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(2));
    }
}
