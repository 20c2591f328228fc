use std::time::Duration;

use anyhow::Context;
use quartz_core::{AvsAddress, OperatorSet, parse_operator_set_id};
use quartz_store::Store;

use crate::config::{self, FileConfig, GlobalArgs};

/// `quartz rollback AVS OPSET [--to-release N]`: move `live` back and record it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The AVS address.
    avs: String,
    /// The operator set id.
    operator_set_id: String,
    /// The release to return to [default: the most recent deployed release older than live].
    #[arg(long, value_name = "N")]
    to_release: Option<u64>,
    /// Lambda API endpoint (the local runtime) [default: AWS].
    #[arg(long, env = "QUARTZ_LAMBDA_ENDPOINT", value_name = "URL")]
    lambda_endpoint: Option<String>,
    /// AWS region of the Lambda API.
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let set = OperatorSet::new(
        args.avs.parse::<AvsAddress>().context("AVS")?,
        parse_operator_set_id(&args.operator_set_id).context("OPSET")?,
    );
    let lambda = config::lambda_config(args.lambda_endpoint.as_deref(), args.region.as_deref(), &file.lambda)?;
    let data_dir = config::data_dir(global, &file);
    let store =
        Store::open_in(&data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let client = quartz_lambda_client::build_client(&lambda, Duration::from_secs(10)).await;
    let done = quartz_factory::rollback(&store, &client, set, args.to_release).await?;
    println!(
        "{set}: live moved from release {} (version {}) to release {} (version {})",
        done.from_release.map_or("-".to_string(), |r| r.to_string()),
        done.from_version.as_deref().unwrap_or("-"),
        done.to_release,
        done.to_version
    );
    Ok(())
}
