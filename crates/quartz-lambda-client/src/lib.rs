//! One way to build the Lambda client for every part of Quartz. The Lambda API is the shared
//! contract: the same SDK client talks to AWS Lambda or, with an endpoint override, to Quartz's
//! local runtime (or moto in tests).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{Credentials, Region};
use aws_sdk_lambda::error::SdkError;
use aws_sdk_lambda::operation::get_function::GetFunctionError;
use serde::{Deserialize, Serialize};

pub use aws_sdk_lambda::Client;

/// Where the Lambda API is. `[lambda]` in quartz.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaClientConfig {
    /// Endpoint override (the local runtime, moto). Unset means AWS, with the SDK's own
    /// resolution, which also honours `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL`.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
}

fn default_region() -> String {
    "us-east-1".to_string()
}

impl Default for LambdaClientConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: default_region(),
        }
    }
}

/// Builds the client. `read_timeout` must exceed the longest function timeout when the client
/// invokes functions; control calls are quick.
pub async fn build_client(config: &LambdaClientConfig, read_timeout: Duration) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint.clone());
        // A local endpoint accepts any signature; without this, a machine with no AWS
        // credentials at all could not talk to the local runtime.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none() {
            loader =
                loader.credentials_provider(Credentials::new("quartz-local", "quartz-local", None, None, "quartz"));
        }
    }
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(read_timeout)
        // Retries included: a Lambda API that accepts connections but never answers must not
        // hold a caller for several read timeouts in a row.
        .operation_timeout(read_timeout + Duration::from_secs(3))
        .build();
    let shared = loader.timeout_config(timeouts).load().await;
    Client::new(&shared)
}

/// What the registry shows about a function: `functionStatus` in the seed's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatus {
    pub state: String,
    pub last_modified: Option<String>,
    pub code_size: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error("the Lambda API could not be reached: {0}")]
    Unreachable(String),
    #[error("the Lambda API answered {code}: {message}")]
    Api { code: String, message: String },
}

/// GetFunction, reduced to its status; `Ok(None)` when the function does not exist.
pub async fn function_status(client: &Client, name: &str) -> Result<Option<FunctionStatus>, LambdaError> {
    match client.get_function().function_name(name).send().await {
        Ok(output) => {
            let config = output.configuration();
            Ok(Some(FunctionStatus {
                state: config
                    .and_then(|c| c.state())
                    .map_or_else(|| "Active".to_string(), |s| s.as_str().to_string()),
                last_modified: config.and_then(|c| c.last_modified()).map(str::to_string),
                code_size: config.map(|c| c.code_size()),
            }))
        }
        Err(SdkError::ServiceError(err)) if matches!(err.err(), GetFunctionError::ResourceNotFoundException(_)) => {
            Ok(None)
        }
        Err(SdkError::ServiceError(err)) => {
            let err = err.into_err();
            Err(LambdaError::Api {
                code: aws_sdk_lambda::error::ProvideErrorMetadata::code(&err)
                    .unwrap_or("Unknown")
                    .to_string(),
                message: aws_sdk_lambda::error::ProvideErrorMetadata::message(&err)
                    .unwrap_or_default()
                    .to_string(),
            })
        }
        Err(other) => Err(LambdaError::Unreachable(
            aws_sdk_lambda::error::DisplayErrorContext(other).to_string(),
        )),
    }
}
