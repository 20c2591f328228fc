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

/// A name no other test in this binary uses, for resources on the shared moto.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
