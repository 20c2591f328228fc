use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use quartz_registry::RegistryState;
use quartz_store::Store;

use crate::config::{self, FileConfig, GlobalArgs, Key};

/// `quartz registry`: the performer registry API on its own.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to serve on; port 0 picks a free one [default: 127.0.0.1:8090].
    #[arg(long, env = "QUARTZ_REGISTRY_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Bearer token required for PUT and DELETE [default: generated into DATA_DIR/registry.token].
    #[arg(long, env = "QUARTZ_REGISTRY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Lambda API endpoint used for functionStatus and the PUT existence check [default: AWS].
    #[arg(long, env = "QUARTZ_LAMBDA_ENDPOINT", value_name = "URL")]
    lambda_endpoint: Option<String>,
    /// AWS region of the Lambda API.
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
}

pub const LISTEN_KEY: Key = Key {
    name: "registry.listen",
    flag: "--listen",
    env: "QUARTZ_REGISTRY_LISTEN",
};
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";
pub const TOKEN_FILE: &str = "registry.token";

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let listen: SocketAddr = LISTEN_KEY.resolve(
        args.listen.as_deref(),
        file.registry.listen.as_deref(),
        DEFAULT_LISTEN,
        config::parse_listen,
    )?;
    let lambda = config::lambda_config(args.lambda_endpoint.as_deref(), args.region.as_deref(), &file.lambda)?;
    let data_dir = config::data_dir(global, &file);
    let store =
        Store::open_in(&data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let token = match args.token.or(file.registry.token) {
        Some(token) if token.len() < 16 || token.bytes().any(|b| !b.is_ascii_graphic()) => anyhow::bail!(
            "registry.token (--token / QUARTZ_REGISTRY_TOKEN / [registry] token in quartz.toml) must be at least 16 \
             printable characters without spaces; leave it unset to have one generated"
        ),
        Some(token) => token,
        None => load_or_create_token(&data_dir.join(TOKEN_FILE))?,
    };
    let client = quartz_lambda_client::build_client(&lambda, Duration::from_secs(5)).await;
    let state = RegistryState::new(store, client, Some(token));
    let listener = crate::serve::bind("registry", listen).await?;
    quartz_registry::serve(listener, state, crate::serve::shutdown_on_signals()).await?;
    Ok(())
}

/// Reads the registry token, creating a random one (mode 0600) on first use.
pub fn load_or_create_token(path: &Path) -> anyhow::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        anyhow::ensure!(
            !existing.is_empty(),
            "token file {} is empty; delete it to generate a new one",
            path.display()
        );
        return Ok(existing);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the registry token: {e}"))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create token file {}", path.display()))?;
    file.write_all(token.as_bytes())?;
    eprintln!("registry token written to {}", path.display());
    Ok(token)
}
