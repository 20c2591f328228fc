//! Runs the release monitor alone, on a quartz.toml `[monitor]` section and a data dir. Used by
//! the crash-restart tests and for operating the monitor outside `quartz up`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use quartz_monitor::MonitorConfig;
use quartz_store::Store;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Run the Quartz release monitor on its own")]
struct Args {
    /// A TOML file with a [monitor] section.
    #[arg(long)]
    config: PathBuf,
    /// Where the store (quartz.db) lives.
    #[arg(long)]
    data_dir: PathBuf,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    monitor: MonitorConfig,
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
        Ok(file) => file.monitor,
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
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            trigger.cancel();
        });
        match quartz_monitor::run(config, store, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("monitor: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
