use std::net::SocketAddr;

use anyhow::Context;
use quartz_store::Store;

use crate::config::{self, FileConfig, GlobalArgs, Key};

/// `quartz runtime`: the local Lambda runtime on its own.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address of the Lambda API; port 0 picks a free one [default: 127.0.0.1:9001].
    #[arg(long, env = "QUARTZ_RUNTIME_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Run functions without bubblewrap. Functions then see the host filesystem and the data
    /// dir: only for machines where bubblewrap cannot run.
    #[arg(long)]
    unsandboxed: bool,
}

pub const LISTEN_KEY: Key = Key {
    name: "runtime_listen",
    flag: "--listen",
    env: "QUARTZ_RUNTIME_LISTEN",
};
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9001";

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let listen: SocketAddr = LISTEN_KEY.resolve(
        args.listen.as_deref(),
        file.runtime_listen.as_deref(),
        DEFAULT_LISTEN,
        config::parse_listen,
    )?;
    let mut runtime = file.runtime.clone();
    runtime.unsandboxed |= args.unsandboxed;
    let data_dir = config::data_dir(global, &file);
    let store =
        Store::open_in(&data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let listener = crate::serve::bind("runtime", listen).await?;
    let handle = quartz_runtime::serve(runtime, &data_dir, store, listener, crate::serve::shutdown_on_signals())
        .await
        .context("cannot start the local runtime")?;
    handle.wait().await.context("the local runtime stopped with an error")
}
