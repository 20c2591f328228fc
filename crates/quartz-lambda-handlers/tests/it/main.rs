//! The control-plane handlers against real peers: moto (DynamoDB, Lambda control, Step
//! Functions, SSM), local OCI registries, anvil with the EigenLayer fork state, and the built
//! binary under Quartz's own Lambda runtime.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

mod factory_step;
mod monitor;
mod registry_api;
mod runtime;

use std::process::Command;

use quartz_aws::AwsConfig;
use quartz_testkit::Moto;

pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    AwsConfig::local(moto.endpoint()).load().await
}

/// A name no other test in this binary uses, for resources on a shared moto.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// moto runs image functions in docker unless told otherwise; without docker its Lambda
/// answers every invoke with the event it was given, which the smoke check accepts (the same
/// setting as quartz-aws's Lambda test). It is moto-wide, so only on a moto of one's own.
pub fn without_docker(moto: &Moto) {
    let status = Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
        ])
        .args(["--data", r#"{"lambda": {"use_docker": false}}"#])
        .arg(format!("{}/moto-api/config", moto.endpoint()))
        .status()
        .unwrap();
    assert!(status.success());
}
