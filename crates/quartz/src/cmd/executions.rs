use anyhow::Context;
use quartz_core::{AvsAddress, OperatorSet};
use quartz_factory::{ExecutionStatus, Journal};
use quartz_store::Store;

use crate::config::{self, FileConfig, GlobalArgs};

/// `quartz executions ls|show`: the factory's deployments, read from the store's journal.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List executions, newest first.
    Ls {
        /// Only executions with this status: running, succeeded or failed.
        #[arg(long)]
        status: Option<String>,
        /// Only this operator set's executions (give both AVS and OPSET).
        #[arg(long, value_name = "AVS", requires = "operator_set_id")]
        avs: Option<String>,
        #[arg(long = "operator-set-id", value_name = "OPSET", requires = "avs")]
        operator_set_id: Option<u32>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one execution with its steps, attempts, timings and errors, as JSON.
    Show { id: String },
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let data_dir = config::data_dir(global, &file);
    let store =
        Store::open_in(&data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let journal = Journal::new(store);
    match args.command {
        Command::Ls {
            status,
            avs,
            operator_set_id,
            limit,
        } => {
            let status = status
                .map(|s| {
                    ExecutionStatus::parse(&s)
                        .with_context(|| format!("--status {s:?}: expected running, succeeded or failed"))
                })
                .transpose()?;
            let set = match (avs, operator_set_id) {
                (Some(avs), Some(id)) => Some(OperatorSet::new(avs.parse::<AvsAddress>().context("--avs")?, id)),
                _ => None,
            };
            let executions = journal.list(status, set, limit).await?;
            println!("{:<60} {:<8} {:<10} {:<15} ERROR", "ID", "RELEASE", "STATUS", "STEP");
            for e in executions {
                let error = e
                    .error
                    .map(|f| format!("{}: {}", f.error_type, f.message))
                    .unwrap_or_default();
                println!(
                    "{:<60} {:<8} {:<10} {:<15} {error}",
                    e.id,
                    e.release_id,
                    e.status.as_str(),
                    e.current_step.unwrap_or_default()
                );
            }
        }
        Command::Show { id } => {
            let detail = journal
                .get(&id)
                .await?
                .with_context(|| format!("execution {id} not found"))?;
            println!("{}", serde_json::to_string_pretty(&detail)?);
        }
    }
    Ok(())
}
