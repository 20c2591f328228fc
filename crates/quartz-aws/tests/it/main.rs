//! quartz-aws against a real moto server (and docker-registry for the image mirror).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

mod checkpoint;
mod lambda;
mod mirror;
mod registry;
mod registry_api;

use quartz_aws::AwsConfig;
use quartz_testkit::Moto;

pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    AwsConfig::local(moto.endpoint()).load().await
}
