use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quartz_core::{AvsAddress, PinnedImage};
use quartz_monitor::probe::{Head, Probe};
use quartz_oci::RegistryPolicy;
use quartz_store::Store;
use serde::Serialize;

use crate::config::{self, FileConfig, GlobalArgs};

/// `quartz doctor`: checks each dependency and says how to fix what fails.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ethereum JSON-RPC endpoint [default: the first of [monitor] rpc_urls].
    #[arg(long, value_name = "URL")]
    rpc_url: Option<String>,
    /// The ReleaseManager [default: [monitor] release_manager, else the chain's production one].
    #[arg(long, value_name = "ADDRESS")]
    release_manager: Option<String>,
    /// Lambda API endpoint to check [default: [lambda] endpoint; unchecked when unset (AWS)].
    #[arg(long, env = "QUARTZ_LAMBDA_ENDPOINT", value_name = "URL")]
    lambda_endpoint: Option<String>,
    /// Also check that this image's registry is allowed and reachable (repeatable).
    #[arg(long = "image", value_name = "REPO@sha256:HEX")]
    images: Vec<String>,
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Ok,
    Warn,
    Fail,
    Skip,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
struct Check {
    name: String,
    status: Verdict,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

/// A block older than this on a live chain means a stalled chain or a clock running ahead.
const STALE_BLOCK_SECS: u64 = 600;
/// A block this far in the future means the local clock is behind.
const FUTURE_BLOCK_SECS: u64 = 60;
const TIMEOUT: Duration = Duration::from_secs(5);

fn check(name: &str, status: Verdict, detail: impl Into<String>, fix: Option<String>) -> Check {
    Check {
        name: name.to_string(),
        status,
        detail: detail.into(),
        fix,
    }
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let rpc_url = super::status::rpc_url(args.rpc_url.as_deref(), &file)?;
    let release_manager = match &args.release_manager {
        Some(value) => Some(
            value
                .parse::<AvsAddress>()
                .map_err(|e| anyhow::anyhow!("--release-manager {value:?}: {e}"))?,
        ),
        None => file.monitor.release_manager.map(AvsAddress::new),
    };
    let images = args
        .images
        .iter()
        .map(|v| {
            v.parse::<PinnedImage>()
                .map_err(|e| anyhow::anyhow!("--image {v:?}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let lambda = config::lambda_config(args.lambda_endpoint.as_deref(), None, &file.lambda)?;

    let mut checks = Vec::new();
    let head = chain_checks(&rpc_url, release_manager, &mut checks).await;
    checks.push(clock(head));
    checks.push(sandbox(&file.runtime).await);
    checks.push(data_dir(&config::data_dir(global, &file)).await);
    // The list `quartz up` uses: [factory.registries] and [runtime] merged.
    let mut policy = file.factory.registries.clone();
    super::up::merge_registries(&mut policy, &file.runtime);
    checks.extend(registries(&policy, &images).await);
    checks.push(lambda_endpoint(lambda.endpoint.as_deref()).await);

    let failed = checks.iter().any(|c| c.status == Verdict::Fail);
    if args.json {
        let report = Report { ok: !failed, checks };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &checks {
            let status = match c.status {
                Verdict::Ok => "ok",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "skip",
            };
            match &c.fix {
                Some(fix) => println!("{status:<5} {:<16} {} — fix: {fix}", c.name, c.detail),
                None => println!("{status:<5} {:<16} {}", c.name, c.detail),
            }
        }
    }
    if failed {
        anyhow::bail!("some checks failed; see the fixes above");
    }
    Ok(())
}

async fn chain_checks(rpc_url: &str, release_manager: Option<AvsAddress>, checks: &mut Vec<Check>) -> Option<Head> {
    let rpc_fix = Some("pass --rpc-url URL, or set [monitor] rpc_urls in quartz.toml (QUARTZ_RPC_URLS)".to_string());
    let probe = match Probe::new(rpc_url, TIMEOUT) {
        Ok(probe) => probe,
        Err(e) => {
            checks.push(check("rpc", Verdict::Fail, e.to_string(), rpc_fix));
            return None;
        }
    };
    let head = match probe.head().await {
        Ok(head) => head,
        Err(e) => {
            checks.push(check("rpc", Verdict::Fail, format!("{rpc_url}: {e}"), rpc_fix));
            checks.push(check(
                "release manager",
                Verdict::Skip,
                "the RPC endpoint cannot be reached",
                None,
            ));
            return None;
        }
    };
    checks.push(check(
        "rpc",
        Verdict::Ok,
        format!("{rpc_url} answers: chain id {}, head {}", head.chain_id, head.number),
        None,
    ));
    let rm_fix = Some("pass --release-manager ADDRESS, or set [monitor] release_manager in quartz.toml".to_string());
    let Some(address) = release_manager
        .or_else(|| quartz_monitor::contract::default_release_manager(head.chain_id).map(AvsAddress::new))
    else {
        checks.push(check(
            "release manager",
            Verdict::Fail,
            format!("no ReleaseManager address is known for chain id {}", head.chain_id),
            rm_fix,
        ));
        return Some(head);
    };
    checks.push(match probe.has_code(address.as_address()).await {
        Ok(true) => check(
            "release manager",
            Verdict::Ok,
            format!("contract code at {address}"),
            None,
        ),
        Ok(false) => check(
            "release manager",
            Verdict::Fail,
            format!("no contract at {address} on chain {}", head.chain_id),
            rm_fix,
        ),
        Err(e) => check("release manager", Verdict::Fail, e.to_string(), rm_fix),
    });
    Some(head)
}

/// upgradeByTime deadlines are chain time; a local clock far from it misjudges them.
fn clock(head: Option<Head>) -> Check {
    let Some(head) = head else {
        return check("clock", Verdict::Skip, "no chain head to compare with", None);
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let fix = Some("synchronise the system clock (e.g. systemd-timesyncd or chrony)".to_string());
    if head.timestamp > now + FUTURE_BLOCK_SECS {
        return check(
            "clock",
            Verdict::Fail,
            format!(
                "the latest block (#{}) is {} s ahead of the local clock",
                head.number,
                head.timestamp - now
            ),
            fix,
        );
    }
    let age = now.saturating_sub(head.timestamp);
    if age > STALE_BLOCK_SECS {
        return check(
            "clock",
            Verdict::Warn,
            format!(
                "the latest block (#{}) is {age} s old: a dev chain that mines on demand, a stalled node, or a local clock running ahead",
                head.number
            ),
            None,
        );
    }
    check(
        "clock",
        Verdict::Ok,
        format!("local clock within {age} s of the latest block"),
        None,
    )
}

async fn sandbox(runtime: &quartz_runtime::RuntimeConfig) -> Check {
    if runtime.unsandboxed {
        return check(
            "sandbox",
            Verdict::Warn,
            "runtime.unsandboxed = true: functions run on the host without bubblewrap",
            None,
        );
    }
    match quartz_runtime::probe_sandbox(&runtime.bwrap).await {
        Ok(()) => check("sandbox", Verdict::Ok, format!("{} runs", runtime.bwrap), None),
        Err(e) => check(
            "sandbox",
            Verdict::Fail,
            e.to_string(),
            Some(
                "install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces, or set \
                 runtime.bwrap in quartz.toml to its path (runtime.unsandboxed = true runs without a sandbox)"
                    .to_string(),
            ),
        ),
    }
}

async fn data_dir(dir: &Path) -> Check {
    let fix = Some(format!(
        "pass --data-dir DIR (or QUARTZ_DATA_DIR, or data_dir in quartz.toml) naming a writable directory; now {}",
        dir.display()
    ));
    // Nothing is created: a missing data dir only needs a writable ancestor.
    let existing = dir.ancestors().find(|a| a.as_os_str().is_empty() || a.exists());
    let existing = match existing {
        Some(a) if a.as_os_str().is_empty() => Path::new("."),
        Some(a) => a,
        None => Path::new("/"),
    };
    let probe = existing.join(format!(".quartz-doctor-{}", std::process::id()));
    if let Err(e) = std::fs::write(&probe, b"ok") {
        return check(
            "data dir",
            Verdict::Fail,
            format!("{} is not writable: {e}", existing.display()),
            fix,
        );
    }
    let _ = std::fs::remove_file(&probe);
    if !dir.join(quartz_store::STORE_FILE).exists() {
        return check(
            "data dir",
            Verdict::Ok,
            format!(
                "{} is writable; no store yet (quartz up creates it)",
                existing.display()
            ),
            None,
        );
    }
    // Opening migrates the schema forward; a newer schema is refused, which is the check.
    let opened = tokio::task::spawn_blocking({
        let dir = dir.to_path_buf();
        move || Store::open_in(&dir)
    })
    .await;
    match opened {
        Ok(Ok(store)) => match store.ping().await {
            Ok(()) => check(
                "data dir",
                Verdict::Ok,
                format!("{} writable, store opens, schema current", dir.display()),
                None,
            ),
            Err(e) => check("data dir", Verdict::Fail, format!("store: {e}"), fix),
        },
        Ok(Err(e @ quartz_store::StoreError::SchemaTooNew { .. })) => check(
            "data dir",
            Verdict::Fail,
            e.to_string(),
            Some("run a quartz at least as new as the one that wrote this store".into()),
        ),
        Ok(Err(e)) => check("data dir", Verdict::Fail, format!("store: {e}"), fix),
        Err(e) => check("data dir", Verdict::Fail, format!("store: {e}"), fix),
    }
}

/// Each configured registry must answer the OCI distribution API; each `--image`'s registry must
/// also pass the policy the runtime applies to untrusted `registryUrl`s.
async fn registries(policy: &RegistryPolicy, images: &[PinnedImage]) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let listed = policy
        .allowed_registries
        .iter()
        .chain(&policy.insecure_registries)
        .cloned();
    let from_images = images.iter().map(|i| i.repository.registry.clone());
    for registry in listed.chain(from_images) {
        if !seen.insert(registry.clone()) {
            continue;
        }
        let name = format!("registry {registry}");
        if let Err(e) = policy.check(&registry).await {
            checks.push(check(
                &name,
                Verdict::Fail,
                e.to_string(),
                Some(format!(
                    "add \"{registry}\" to [factory.registries] allowed_registries in quartz.toml or pass `quartz up --allow-registry {registry}` (and insecure_registries / --insecure-registry if it speaks plain HTTP)"
                )),
            ));
            continue;
        }
        let scheme = if policy.is_insecure(&registry) { "http" } else { "https" };
        let url = format!("{scheme}://{registry}/v2/");
        checks.push(match http_status(&url).await {
            // 401 is a registry asking for credentials: it is there.
            Ok(status) if status == 200 || status == 401 => {
                check(&name, Verdict::Ok, format!("{url} answers {status}"), None)
            }
            Ok(status) => check(
                &name,
                Verdict::Fail,
                format!("{url} answers {status}, not an OCI registry"),
                Some("check the registry host and port in allowed_registries".into()),
            ),
            Err(e) => check(
                &name,
                Verdict::Fail,
                format!("{url}: {e}"),
                Some(format!(
                    "start the registry, or fix \"{registry}\" in allowed_registries / insecure_registries"
                )),
            ),
        });
    }
    if checks.is_empty() {
        checks.push(check(
            "registries",
            Verdict::Skip,
            "no registry configured ([factory.registries] or [runtime] allowed_registries) and no --image given",
            None,
        ));
    }
    checks
}

async fn lambda_endpoint(endpoint: Option<&str>) -> Check {
    let Some(endpoint) = endpoint else {
        return check(
            "lambda",
            Verdict::Skip,
            "no lambda.endpoint configured: AWS Lambda",
            None,
        );
    };
    let url = format!("{endpoint}/2015-03-31/functions");
    match http_status(&url).await {
        Ok(status) => check("lambda", Verdict::Ok, format!("{url} answers {status}"), None),
        Err(e) => check(
            "lambda",
            Verdict::Fail,
            format!("{url}: {e}"),
            Some("start the local runtime (quartz runtime / quartz up), or fix --lambda-endpoint / lambda.endpoint in quartz.toml".into()),
        ),
    }
}

async fn http_status(url: &str) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    client
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| error_chain(&e))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
