//! Runs the factory alone, on a quartz.toml `[factory]` section, a data dir and a Lambda API
//! endpoint, consuming the store's release outbox. Used by the kill -9 tests and for operating
//! the factory outside `quartz up`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use quartz_factory::{FactoryConfig, FactoryDeps, LocalAvailability};
use quartz_lambda_client::LambdaClientConfig;
use quartz_store::Store;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Run the Quartz factory on its own")]
struct Args {
    /// A TOML file with a [factory] section.
    #[arg(long)]
    config: PathBuf,
    /// Where the store (quartz.db) lives.
    #[arg(long)]
    data_dir: PathBuf,
    /// The Lambda API (the local runtime) [default: AWS].
    #[arg(long)]
    lambda_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    factory: FactoryConfig,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("quartz=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match std::fs::read_to_string(&args.config)
        .map_err(|e| e.to_string())
        .and_then(|text| toml::from_str::<File>(&text).map_err(|e| e.to_string()))
    {
        Ok(file) => file.factory,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.config.display());
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let store = match Store::open_in(&args.data_dir) {
            Ok(store) => store,
            Err(e) => {
                eprintln!("cannot open the store in {}: {e}", args.data_dir.display());
                return ExitCode::FAILURE;
            }
        };
        let lambda_config = LambdaClientConfig {
            endpoint: args.lambda_endpoint,
            ..LambdaClientConfig::default()
        };
        // Longer than any smoke check: the function timeout is at most 900 s.
        let lambda = quartz_lambda_client::build_client(&lambda_config, Duration::from_secs(910)).await;
        let deps = FactoryDeps {
            store,
            lambda,
            availability: Arc::new(LocalAvailability),
            work_dir: args.data_dir.join("factory"),
        };
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            trigger.cancel();
        });
        match quartz_factory::run(config, deps, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("factory: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
