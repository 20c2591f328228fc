use std::path::Path;

use anyhow::Context;
use quartz_core::registry::Performer;
use quartz_core::{AvsAddress, OperatorSet, parse_operator_set_id};
use quartz_store::Store;

use crate::config::{self, FileConfig, GlobalArgs};

/// `quartz performers ls|get`: the registry, read from the data dir's store.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List performers: which function serves each operator set, at which release.
    Ls {
        /// Only this AVS's performers.
        #[arg(long, value_name = "ADDRESS")]
        avs: Option<String>,
        /// Print as JSON (`{"performers":[…],"count":n}`, as GET /performers).
        #[arg(long)]
        json: bool,
    },
    /// Show one performer with its release history, newest first.
    Get {
        /// The AVS address.
        avs: String,
        /// The operator set id.
        operator_set_id: String,
        /// How many history entries to show.
        #[arg(long, default_value_t = 20)]
        history: usize,
        /// Print as JSON (the entry plus `releases`).
        #[arg(long)]
        json: bool,
    },
}

/// Listing pages through the store this many at a time.
const PAGE: usize = 500;

/// Opens the store of an existing data dir; refuses to create an empty one by mistake.
pub fn open_existing_store(data_dir: &Path) -> anyhow::Result<Store> {
    if !data_dir.join(quartz_store::STORE_FILE).exists() {
        anyhow::bail!(
            "no Quartz store in {}: pass --data-dir DIR (or QUARTZ_DATA_DIR, or data_dir in quartz.toml) naming the data dir of `quartz up`",
            data_dir.display()
        );
    }
    Store::open_in(data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))
}

/// Every performer, in (avs, operator set) order.
pub async fn all(store: &Store, avs: Option<AvsAddress>) -> anyhow::Result<Vec<Performer>> {
    let mut performers = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_performers(after, avs, PAGE).await?;
        performers.extend(page.performers);
        match page.next_after {
            Some(set) => after = Some((set.avs, u64::from(set.id))),
            None => return Ok(performers),
        }
    }
}

pub fn print_performers(rows: &[[String; 6]]) {
    let header = ["AVS", "OPSET", "RELEASE", "VERSION", "STATUS", "IMAGE"];
    println!(
        "{:<42} {:>5} {:>7} {:>7} {:<8} {}",
        header[0], header[1], header[2], header[3], header[4], header[5]
    );
    if rows.is_empty() {
        println!("(no performers)");
    }
    for r in rows {
        println!("{:<42} {:>5} {:>7} {:>7} {:<8} {}", r[0], r[1], r[2], r[3], r[4], r[5]);
    }
}

fn row(p: &Performer) -> [String; 6] {
    let dash = || "-".to_string();
    [
        p.avs_address.to_string(),
        p.operator_set_id.to_string(),
        p.release_id.map_or_else(dash, |r| r.to_string()),
        p.function_version.clone().unwrap_or_else(dash),
        p.status.as_str().to_string(),
        p.image_uri.as_ref().map_or_else(dash, ToString::to_string),
    ]
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let data_dir = config::data_dir(global, &file);
    match args.command {
        Command::Ls { avs, json } => {
            let avs = avs
                .map(|a| a.parse::<AvsAddress>().with_context(|| format!("--avs {a:?}")))
                .transpose()?;
            let store = open_existing_store(&data_dir)?;
            let performers = all(&store, avs).await?;
            if json {
                let body = serde_json::json!({ "performers": performers, "count": performers.len() });
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                print_performers(&performers.iter().map(row).collect::<Vec<_>>());
            }
        }
        Command::Get {
            avs,
            operator_set_id,
            history,
            json,
        } => {
            let set = OperatorSet::new(
                avs.parse::<AvsAddress>().with_context(|| format!("AVS {avs:?}"))?,
                parse_operator_set_id(&operator_set_id)
                    .with_context(|| format!("OPERATOR_SET_ID {operator_set_id:?}"))?,
            );
            let store = open_existing_store(&data_dir)?;
            let performer = store
                .get_performer(set)
                .await?
                .with_context(|| format!("no performer for {set} in {}", data_dir.display()))?;
            let releases = store.release_history(set, history).await?;
            if json {
                let mut body = serde_json::to_value(&performer)?;
                body["releases"] = serde_json::to_value(&releases)?;
                println!("{}", serde_json::to_string_pretty(&body)?);
                return Ok(());
            }
            print_performers(&[row(&performer)]);
            println!("function     {}", performer.function_name.as_str());
            println!("updated at   {}", performer.updated_at);
            println!();
            println!(
                "{:>7} {:>7} {:<11} {:<24} DETAIL",
                "RELEASE", "VERSION", "OUTCOME", "AT"
            );
            for r in releases {
                println!(
                    "{:>7} {:>7} {:<11} {:<24} {}",
                    r.release_id,
                    r.function_version.as_deref().unwrap_or("-"),
                    r.outcome.as_str(),
                    r.deployed_at,
                    r.detail.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
