//! The control-plane handlers against real peers: moto (DynamoDB, Lambda control, Step
//! Functions, SSM), local OCI registries, anvil with the EigenLayer fork state, and the built
//! binary under Quartz's own Lambda runtime.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

mod factory_step;
mod monitor;
mod registry_api;
mod runtime;

use quartz_aws::AwsConfig;
use quartz_testkit::Moto;

pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    AwsConfig::local(moto.endpoint()).load().await
}
