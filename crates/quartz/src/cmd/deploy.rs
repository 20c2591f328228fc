use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use quartz_aws_stack::deploy::{self, Clients, DeployRequest};

/// The package `quartz deploy` builds when no `--bootstrap` is given.
const HANDLERS_PACKAGE: &str = "quartz-lambda-handlers";
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// `quartz deploy`: builds the control-plane handlers as one static binary, uploads it zipped
/// as `bootstrap` to S3, and creates or updates the CloudFormation stack from `quartz synth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    synth: super::synth::Args,
    /// The S3 bucket for the handlers' code (created when missing).
    #[arg(long, env = "QUARTZ_DEPLOY_BUCKET", value_name = "BUCKET")]
    bucket: String,
    #[arg(long, default_value = "QuartzStack", value_name = "NAME")]
    stack_name: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// An endpoint for S3 and CloudFormation other than AWS's (moto, LocalStack).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// A handlers binary already built (static, x86_64 Linux) instead of building one.
    #[arg(long, value_name = "PATH")]
    bootstrap: Option<PathBuf>,
    /// The Quartz source tree to build the handlers in.
    #[arg(long, default_value = ".", value_name = "DIR")]
    source: PathBuf,
    /// How long to wait for the stack to settle.
    #[arg(long, default_value_t = 30, value_name = "MIN")]
    wait_minutes: u64,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let synth = args.synth.config()?;
    if let Some(endpoint) = &args.endpoint_url {
        anyhow::ensure!(
            endpoint.starts_with("http://") || endpoint.starts_with("https://"),
            "--endpoint-url {endpoint:?}: expected an http:// or https:// URL"
        );
    }
    let path = match &args.bootstrap {
        Some(path) => path.clone(),
        None => build_handlers(&args.source)?,
    };
    let binary = std::fs::read(&path).with_context(|| format!("--bootstrap {}: cannot read", path.display()))?;
    let clients = Clients::new(&args.region, args.endpoint_url.as_deref()).await;
    let shown = path.display().to_string();
    let done = deploy::deploy(
        &clients,
        &DeployRequest {
            stack_name: &args.stack_name,
            bucket: &args.bucket,
            synth: &synth,
            bootstrap: &binary,
            bootstrap_path: &shown,
            wait: Duration::from_secs(args.wait_minutes * 60),
        },
    )
    .await?;
    let what = if done.changed { "deployed" } else { "already up to date" };
    println!(
        "{} {what}: {} (code s3://{}/{})",
        args.stack_name, done.status, args.bucket, done.code_key
    );
    for (key, value) in &done.outputs {
        println!("{key}\t{value}");
    }
    Ok(())
}

/// `cargo build --release` of the handlers as a static executable (no glibc dependency, so it
/// runs on provided.al2023), in its own target directory so crt-static touches nothing else.
fn build_handlers(source: &Path) -> anyhow::Result<PathBuf> {
    let target_dir = source.join("target/lambda");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(source)
        .args(["build", "--release", "-p", HANDLERS_PACKAGE, "--target", TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .status()
        .with_context(|| format!("cannot run cargo in --source {}", source.display()))?;
    anyhow::ensure!(
        status.success(),
        "cargo build -p {HANDLERS_PACKAGE} failed in --source {} (or pass a prebuilt --bootstrap)",
        source.display()
    );
    Ok(target_dir.join(TARGET).join("release").join(HANDLERS_PACKAGE))
}
