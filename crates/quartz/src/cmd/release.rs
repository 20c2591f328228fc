use std::path::PathBuf;

use anyhow::Context;
use quartz_core::{AvsAddress, OperatorSet, PinnedImage, parse_operator_set_id};
use quartz_monitor::publish::{PublishRequest, Publisher, Signer};

use crate::config::{FileConfig, GlobalArgs};

/// `quartz release publish`: publish a release on the ReleaseManager, for AVS developers.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Publish a release (and the metadata URI first when needed) for an operator set.
    Publish(PublishArgs),
}

#[derive(Debug, clap::Args)]
struct PublishArgs {
    /// Ethereum JSON-RPC endpoint [default: the first of [monitor] rpc_urls].
    #[arg(long, value_name = "URL")]
    rpc_url: Option<String>,
    /// The ReleaseManager [default: [monitor] release_manager, else the chain's production one].
    #[arg(long, value_name = "ADDRESS")]
    release_manager: Option<String>,
    /// The AVS address.
    #[arg(long, value_name = "ADDRESS")]
    avs: String,
    /// The operator set id.
    #[arg(long = "operator-set-id", value_name = "ID")]
    operator_set_id: String,
    /// An artifact, pinned by digest: REGISTRY/REPO@sha256:HEX. Repeat for several.
    #[arg(long = "image", value_name = "REPO@sha256:HEX", required = true)]
    images: Vec<String>,
    /// Unix seconds by which operators must upgrade; 0 for no deadline.
    #[arg(long, value_name = "UNIX_SECONDS", default_value_t = 0)]
    upgrade_by: u32,
    /// Published first (publishMetadataURI) unless the operator set already has this URI;
    /// needed before an operator set's first release.
    #[arg(long, value_name = "URI")]
    metadata_uri: Option<String>,
    /// A file holding the signer's hex private key (else env QUARTZ_PRIVATE_KEY).
    #[arg(long, value_name = "FILE", conflicts_with = "impersonate")]
    private_key_file: Option<PathBuf>,
    /// Send as the AVS itself through anvil_impersonateAccount (dev chains only).
    #[arg(long)]
    impersonate: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

const PRIVATE_KEY_ENV: &str = "QUARTZ_PRIVATE_KEY";

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let Command::Publish(args) = args.command;
    let file = FileConfig::load(global.config.as_deref())?;
    // Every flag is checked before the first RPC call.
    let rpc_url = super::status::rpc_url(args.rpc_url.as_deref(), &file)?;
    let release_manager = match (&args.release_manager, file.monitor.release_manager) {
        (Some(value), _) => Some(
            value
                .parse::<AvsAddress>()
                .with_context(|| format!("--release-manager {value:?}"))?
                .as_address(),
        ),
        (None, from_file) => from_file,
    };
    let avs = args
        .avs
        .parse::<AvsAddress>()
        .with_context(|| format!("--avs {:?}", args.avs))?;
    let id = parse_operator_set_id(&args.operator_set_id)
        .with_context(|| format!("--operator-set-id {:?}", args.operator_set_id))?;
    let images = args
        .images
        .iter()
        .map(|value| {
            value
                .parse::<PinnedImage>()
                .with_context(|| format!("--image {value:?}: expected REGISTRY/REPO@sha256:<64 hex>"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.metadata_uri.as_deref().is_some_and(|uri| uri.trim().is_empty()) {
        anyhow::bail!("--metadata-uri is empty; the ReleaseManager refuses an empty metadata URI");
    }
    let signer = signer(&args)?;
    let publisher = Publisher::connect(&rpc_url, release_manager, signer).await?;
    let request = PublishRequest {
        set: OperatorSet::new(avs, id),
        images,
        upgrade_by_time: args.upgrade_by,
        metadata_uri: args.metadata_uri.clone(),
    };
    let published = publisher.publish(&request).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&published)?);
        return Ok(());
    }
    let row = |key: &str, value: String| println!("{key:<16} {value}");
    row(
        "operator set",
        format!("{}/{}", published.avs, published.operator_set_id),
    );
    row("release id", published.release_id.to_string());
    row(
        "transaction",
        format!("{} (block {})", published.tx_hash, published.block_number),
    );
    if let Some(metadata) = &published.metadata {
        row(
            "metadata tx",
            format!("{} (block {})", metadata.tx_hash, metadata.block_number),
        );
    }
    row("from", published.from.to_string());
    row(
        "release manager",
        format!("{} (chain {})", published.release_manager, published.chain_id),
    );
    row("upgrade by", published.upgrade_by_time.to_string());
    for artifact in &published.artifacts {
        row("artifact", artifact.clone());
    }
    Ok(())
}

fn signer(args: &PublishArgs) -> anyhow::Result<Signer> {
    if args.impersonate {
        return Ok(Signer::Impersonate);
    }
    // Never echo the key material in an error.
    let (text, source) = if let Some(path) = &args.private_key_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--private-key-file {}: cannot read it", path.display()))?;
        (text, format!("--private-key-file {}", path.display()))
    } else if let Ok(text) = std::env::var(PRIVATE_KEY_ENV) {
        (text, PRIVATE_KEY_ENV.to_string())
    } else {
        anyhow::bail!(
            "no signer: pass --private-key-file FILE, set {PRIVATE_KEY_ENV}, or use --impersonate on a dev chain (anvil)"
        );
    };
    let key = text
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{source}: not a private key (expected 64 hex digits, optionally 0x-prefixed)"))?;
    Ok(Signer::Key(key))
}
