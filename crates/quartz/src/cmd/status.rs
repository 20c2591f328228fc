use std::time::Duration;

use anyhow::Context;
use quartz_factory::{ExecutionStatus, ExecutionSummary, Journal};
use quartz_monitor::probe::{Head, Probe};
use serde::Serialize;

use crate::config::{self, FileConfig, GlobalArgs};

/// `quartz status`: the pipeline at a glance, from the data dir's store (readable while
/// `quartz up` runs) and the chain head.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ethereum JSON-RPC endpoint for the chain head [default: the first of [monitor] rpc_urls].
    #[arg(long, value_name = "URL")]
    rpc_url: Option<String>,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// How many failed executions are listed (all are counted).
const FAILURES_SHOWN: usize = 5;
/// Counting executions reads at most this many of each status.
const COUNT_CAP: usize = 10_000;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    data_dir: String,
    /// The chain head now, from `--rpc-url`; absent when the endpoint cannot be reached.
    chain: Option<Head>,
    chain_error: Option<String>,
    monitor: Vec<MonitorLine>,
    outbox: std::collections::BTreeMap<String, u64>,
    executions: Executions,
    performers: Vec<PerformerLine>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MonitorLine {
    chain_id: u64,
    release_manager: String,
    checkpoint_block: u64,
    /// The live head when the RPC answered for this chain, else the head at the monitor's last poll.
    head_block: Option<u64>,
    /// Whether `head_block` was read now (`true`) or is the one the monitor saw at `polled_at`.
    head_is_live: bool,
    /// Blocks between the head and the checkpoint (confirmations included).
    lag_blocks: Option<u64>,
    polled_at: Option<String>,
    unresolved_logs: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Executions {
    in_flight: usize,
    failed: usize,
    recent_failures: Vec<ExecutionSummary>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PerformerLine {
    avs_address: String,
    operator_set_id: u32,
    live_release: Option<u64>,
    function_version: Option<String>,
    image_uri: Option<String>,
    status: String,
}

/// `--rpc-url`, else the first of `QUARTZ_RPC_URLS`, else the first of `[monitor] rpc_urls`,
/// checked to be an http(s) URL.
pub fn rpc_url(flag: Option<&str>, file: &FileConfig) -> anyhow::Result<String> {
    let env = std::env::var("QUARTZ_RPC_URLS").ok();
    let env = env
        .as_deref()
        .and_then(|v| v.split(',').map(str::trim).find(|u| !u.is_empty()));
    match (flag, env) {
        (Some(url), _) => config::parse_endpoint(url).map_err(|reason| anyhow::anyhow!("--rpc-url {url:?}: {reason}")),
        (None, Some(url)) => {
            config::parse_endpoint(url).map_err(|reason| anyhow::anyhow!("QUARTZ_RPC_URLS {url:?}: {reason}"))
        }
        (None, None) => {
            let url = file
                .monitor
                .rpc_urls
                .first()
                .context("[monitor] rpc_urls in quartz.toml is empty: pass --rpc-url URL")?;
            config::parse_endpoint(url)
                .map_err(|reason| anyhow::anyhow!("[monitor] rpc_urls {url:?} in quartz.toml: {reason}"))
        }
    }
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let rpc_url = rpc_url(args.rpc_url.as_deref(), &file)?;
    let data_dir = config::data_dir(global, &file);
    let store = super::performers::open_existing_store(&data_dir)?;
    let (chain, chain_error) = match Probe::new(&rpc_url, Duration::from_secs(5))?.head().await {
        Ok(head) => (Some(head), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let monitor = quartz_monitor::status(&store).await?;
    let journal = Journal::new(store.clone());
    let running = journal.list(Some(ExecutionStatus::Running), None, COUNT_CAP).await?;
    let failed = journal.list(Some(ExecutionStatus::Failed), None, COUNT_CAP).await?;
    let performers = super::performers::all(&store, None).await?;
    let status = Status {
        data_dir: data_dir.display().to_string(),
        chain,
        chain_error,
        monitor: monitor
            .chains
            .iter()
            .map(|c| {
                let live = chain.filter(|h| h.chain_id == c.chain_id).map(|h| h.number);
                let head = live.or(c.head_block);
                MonitorLine {
                    chain_id: c.chain_id,
                    release_manager: c.release_manager.to_string(),
                    checkpoint_block: c.checkpoint.number,
                    head_block: head,
                    head_is_live: live.is_some(),
                    lag_blocks: head.map(|h| h.saturating_sub(c.checkpoint.number)),
                    polled_at: c.polled_at.clone(),
                    unresolved_logs: c.unresolved_count,
                }
            })
            .collect(),
        outbox: monitor.outbox,
        executions: Executions {
            in_flight: running.len(),
            failed: failed.len(),
            recent_failures: failed.into_iter().take(FAILURES_SHOWN).collect(),
        },
        performers: performers
            .into_iter()
            .map(|p| PerformerLine {
                avs_address: p.avs_address.to_string(),
                operator_set_id: p.operator_set_id,
                live_release: p.release_id,
                function_version: p.function_version,
                image_uri: p.image_uri.map(|i| i.to_string()),
                status: p.status.as_str().to_string(),
            })
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_table(&status);
    }
    Ok(())
}

fn print_table(s: &Status) {
    println!("data dir      {}", s.data_dir);
    match (&s.chain, &s.chain_error) {
        (Some(head), _) => println!("chain         id {}, head {}", head.chain_id, head.number),
        (None, Some(error)) => println!("chain         unreachable: {error}"),
        (None, None) => {}
    }
    println!();
    println!(
        "{:<10} {:<44} {:>12} {:>12} {:>8} {:>10}",
        "CHAIN", "RELEASE MANAGER", "CHECKPOINT", "HEAD", "LAG", "UNRESOLVED"
    );
    if s.monitor.is_empty() {
        println!("(the monitor has not run on this data dir)");
    }
    let mut stale = None;
    for m in &s.monitor {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        // A head the monitor saw earlier is marked, with when, so it is not read as now.
        let mark = if m.head_is_live || m.head_block.is_none() {
            ""
        } else {
            stale = Some(m.polled_at.clone().unwrap_or_else(|| "an unknown time".into()));
            "*"
        };
        println!(
            "{:<10} {:<44} {:>12} {:>12} {:>8} {:>10}",
            m.chain_id,
            m.release_manager,
            m.checkpoint_block,
            format!("{}{mark}", opt(m.head_block)),
            format!("{}{mark}", opt(m.lag_blocks)),
            m.unresolved_logs
        );
    }
    if let Some(at) = stale {
        println!("* as the monitor saw it at its last poll ({at}): the RPC did not answer now");
    }
    let outbox: Vec<String> = s.outbox.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!();
    println!(
        "releases      {}",
        if outbox.is_empty() {
            "none".to_string()
        } else {
            outbox.join(", ")
        }
    );
    println!(
        "executions    {} in flight, {} failed",
        s.executions.in_flight, s.executions.failed
    );
    for e in &s.executions.recent_failures {
        let why = e
            .error
            .as_ref()
            .map(|f| format!("{} at {}: {}", f.error_type, f.step, f.message))
            .unwrap_or_default();
        println!("  failed      {} {why}", e.id);
    }
    println!();
    super::performers::print_performers(
        &s.performers
            .iter()
            .map(|p| {
                [
                    p.avs_address.clone(),
                    p.operator_set_id.to_string(),
                    p.live_release.map_or("-".into(), |r| r.to_string()),
                    p.function_version.clone().unwrap_or_else(|| "-".into()),
                    p.status.clone(),
                    p.image_uri.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect::<Vec<_>>(),
    );
}
