use tokio_util::sync::CancellationToken;

use crate::config::{self, FileConfig, GlobalArgs};

/// `quartz logs FUNCTION [--follow]`: a function's log on the local runtime, with the
/// START/END/REPORT lines of each invocation.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function's name.
    function: String,
    /// Keep printing new lines as they are written, until Ctrl-C.
    #[arg(short, long)]
    follow: bool,
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let name: quartz_core::FunctionName = args.function.parse().map_err(|e| anyhow::anyhow!("FUNCTION: {e}"))?;
    let file = FileConfig::load(global.config.as_deref())?;
    let data_dir = config::data_dir(global, &file);
    let stop = if args.follow {
        crate::serve::shutdown_on_signals()
    } else {
        CancellationToken::new()
    };
    let mut stdout = std::io::stdout();
    quartz_runtime::copy_logs(&data_dir, name.as_str(), args.follow, &mut stdout, stop).await?;
    Ok(())
}
