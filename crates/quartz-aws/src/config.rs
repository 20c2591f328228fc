//! One way to build the SDK configuration for the DynamoDB, SSM and ECR clients.

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};
use std::time::Duration;

/// Where the AWS APIs are. `endpoint` overrides them all (moto); unset means AWS with the SDK's
/// own resolution of credentials and endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    pub endpoint: Option<String>,
    pub region: String,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".to_string(),
        }
    }
}

impl AwsConfig {
    /// For an endpoint override (moto in tests): any credentials do.
    pub fn local(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            ..Self::default()
        }
    }

    pub async fn load(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(self.region.clone()));
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
            // A local endpoint accepts any signature; without this a machine with no AWS
            // credentials could not reach it. Same rule as quartz-lambda-client.
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none() {
                loader =
                    loader.credentials_provider(Credentials::new("quartz-local", "quartz-local", None, None, "quartz"));
            }
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_timeout(Duration::from_secs(30))
            .build();
        loader.timeout_config(timeouts).load().await
    }
}
