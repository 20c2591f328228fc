use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use quartz_monitor::MonitorConfig;
use quartz_store::Store;

use crate::config::{self, FileConfig, GlobalArgs, Key};

/// `quartz monitor`: the release monitor on its own, writing releases into the store's outbox.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serves /metrics and /healthz; port 0 picks a free one [default: 127.0.0.1:8091].
    #[arg(long, env = "QUARTZ_MONITOR_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Which chain and contract to watch; shared by `quartz monitor` and `quartz up`.
#[derive(Debug, clap::Args)]
pub struct ChainArgs {
    /// Ethereum JSON-RPC endpoint; repeat for failover, in order [default: [monitor] rpc_urls].
    #[arg(long = "rpc-url", env = "QUARTZ_RPC_URLS", value_delimiter = ',', value_name = "URL")]
    rpc_urls: Vec<String>,
    /// The ReleaseManager to watch [default: the production address of the chain].
    #[arg(long, env = "QUARTZ_RELEASE_MANAGER", value_name = "ADDRESS")]
    release_manager: Option<String>,
    /// First block to scan on a fresh data dir [default: a window below the head].
    #[arg(long, env = "QUARTZ_START_BLOCK", value_name = "BLOCK")]
    start_block: Option<u64>,
}

const LISTEN_KEY: Key = Key {
    name: "monitor_listen",
    flag: "--listen",
    env: "QUARTZ_MONITOR_LISTEN",
};
const RELEASE_MANAGER_KEY: Key = Key {
    name: "monitor.release_manager",
    flag: "--release-manager",
    env: "QUARTZ_RELEASE_MANAGER",
};

/// `[monitor]` from the file with flags and env applied over it.
pub fn monitor_config(file: &FileConfig, args: &ChainArgs) -> Result<MonitorConfig, config::ConfigError> {
    let mut monitor = file.monitor.clone();
    if !args.rpc_urls.is_empty() {
        monitor.rpc_urls = args.rpc_urls.clone();
    }
    if let Some(address) = &args.release_manager {
        let parsed: quartz_core::AvsAddress = address
            .parse()
            .map_err(|e: quartz_core::DomainError| RELEASE_MANAGER_KEY.invalid(address, e.to_string()))?;
        monitor.release_manager = Some(parsed.as_address());
    }
    if let Some(block) = args.start_block {
        monitor.start_block = Some(block);
    }
    Ok(monitor)
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let listen: SocketAddr = LISTEN_KEY.resolve(
        args.listen.as_deref(),
        file.monitor_listen.as_deref(),
        "127.0.0.1:8091",
        config::parse_listen,
    )?;
    let monitor = monitor_config(&file, &args.chain)?;
    monitor.validate().context(
        "fix the [monitor] section of quartz.toml, or the flags that override it (--rpc-url / QUARTZ_RPC_URLS, \
         --release-manager, --start-block)",
    )?;
    let data_dir = config::data_dir(global, &file);
    let store =
        Store::open_in(&data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let shutdown = crate::serve::shutdown_on_signals();
    let listener = crate::serve::bind("monitor metrics", listen).await?;
    let ops = axum::serve(listener, quartz_telemetry::ops_router())
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let ops = tokio::spawn(async move { ops.await });
    let result = quartz_monitor::run(monitor, store, shutdown.clone()).await;
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), ops).await;
    result.map_err(Into::into)
}
