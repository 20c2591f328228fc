use anyhow::Context;

/// `quartz package --binary PATH --push REF`: packages a static Linux binary as a minimal OCI
/// image (the binary as `/bootstrap`, nothing else), without Docker, pushes it and prints the
/// pinned reference to publish in a release.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A statically linked linux/amd64 executable speaking the Lambda Runtime API.
    #[arg(long, value_name = "PATH")]
    binary: std::path::PathBuf,
    /// Where to push: `registry/repository[:tag]`.
    #[arg(long, value_name = "REF")]
    push: String,
    /// Talk plain HTTP to the registry (a local test registry).
    #[arg(long)]
    insecure: bool,
    /// An environment variable baked into the image, `KEY=VALUE`; repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(bad) = args
        .env
        .iter()
        .find(|e| e.split_once('=').is_none_or(|(k, _)| k.is_empty()))
    {
        anyhow::bail!("--env {bad:?}: expected KEY=VALUE");
    }
    let binary =
        std::fs::read(&args.binary).with_context(|| format!("--binary {}: cannot read", args.binary.display()))?;
    anyhow::ensure!(
        binary.starts_with(b"\x7fELF"),
        "--binary {}: not an ELF executable",
        args.binary.display()
    );
    let image = quartz_oci::binary_image(&binary, &args.env)?;
    let pinned = quartz_oci::push(&image, &args.push, args.insecure)
        .await
        .with_context(|| format!("cannot push to --push {}", args.push))?;
    println!("{pinned}");
    Ok(())
}
