//! `quartz up`: the whole pipeline in one process over one store — the monitor queues releases,
//! the factory deploys them onto the local runtime, the registry API (with its web page) shows
//! what serves what, and the adapter routes tasks to the live function.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use quartz_adapter::AdapterDeps;
use quartz_factory::{FactoryDeps, LocalAvailability};
use quartz_monitor::WatchedSet;
use quartz_registry::RegistryState;
use quartz_store::Store;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::monitor::ChainArgs;
use crate::config::{self, FileConfig, GlobalArgs, Key};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    chain: ChainArgs,
    /// An operator set to deploy releases for, as AVS:ID; repeat for more [default: [[monitor.watch]]].
    #[arg(long = "watch", env = "QUARTZ_WATCH", value_delimiter = ',', value_name = "AVS:ID")]
    watch: Vec<String>,
    /// A registry (HOST[:PORT]) that release images may come from, for the factory and the
    /// runtime; repeat for more [default: [factory.registries] allowed_registries].
    #[arg(long = "allow-registry", value_name = "HOST")]
    allow_registries: Vec<String>,
    /// An allowed registry spoken to over plain HTTP (a local registry); implies --allow-registry.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure_registries: Vec<String>,
    /// Registry API and web page [default: 127.0.0.1:8090].
    #[arg(long, env = "QUARTZ_REGISTRY_LISTEN", value_name = "HOST:PORT")]
    registry_listen: Option<String>,
    /// Local runtime's Lambda API [default: 127.0.0.1:9001].
    #[arg(long, env = "QUARTZ_RUNTIME_LISTEN", value_name = "HOST:PORT")]
    runtime_listen: Option<String>,
    /// The Executor's performer endpoint, gRPC and HTTP on one port [default: 127.0.0.1:8080].
    #[arg(long, env = "QUARTZ_ADAPTER_LISTEN", value_name = "HOST:PORT")]
    adapter_listen: Option<String>,
    /// Run functions without bubblewrap: only where bubblewrap cannot run (see `quartz doctor`).
    #[arg(long)]
    unsandboxed: bool,
}

const WATCH_KEY: Key = Key {
    name: "monitor.watch",
    flag: "--watch",
    env: "QUARTZ_WATCH",
};
const ADAPTER_LISTEN_KEY: Key = Key {
    name: "adapter_listen",
    flag: "--adapter-listen",
    env: "QUARTZ_ADAPTER_LISTEN",
};
const RUNTIME_LISTEN_KEY: Key = Key {
    name: "runtime_listen",
    flag: "--runtime-listen",
    env: "QUARTZ_RUNTIME_LISTEN",
};
const REGISTRY_LISTEN_KEY: Key = Key {
    name: "registry.listen",
    flag: "--registry-listen",
    env: "QUARTZ_REGISTRY_LISTEN",
};

/// A smoke check may run a whole function timeout (at most 900 s); the factory waits longer.
const FACTORY_READ_TIMEOUT: Duration = Duration::from_secs(910);
/// How long components get to finish after Ctrl-C before `up` stops waiting for them.
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

fn parse_watch(value: &str) -> Result<WatchedSet, String> {
    let (avs, id) = value
        .rsplit_once(':')
        .ok_or("expected AVS:ID, such as 0x8e14dB002737F89745bc98F987caeB18D0d47635:0")?;
    Ok(WatchedSet {
        avs: avs.parse().map_err(|e: quartz_core::DomainError| e.to_string())?,
        operator_set_id: quartz_core::parse_operator_set_id(id).map_err(|e| e.to_string())?,
    })
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let listen = |key: &Key, flag: Option<&str>, file: Option<&str>, default| {
        key.resolve(flag, file, default, config::parse_listen)
    };
    let registry_addr: SocketAddr = listen(
        &REGISTRY_LISTEN_KEY,
        args.registry_listen.as_deref(),
        file.registry.listen.as_deref(),
        super::registry::DEFAULT_LISTEN,
    )?;
    let runtime_addr = listen(
        &RUNTIME_LISTEN_KEY,
        args.runtime_listen.as_deref(),
        file.runtime_listen.as_deref(),
        super::runtime::DEFAULT_LISTEN,
    )?;
    let adapter_addr = listen(
        &ADAPTER_LISTEN_KEY,
        args.adapter_listen.as_deref(),
        file.adapter_listen.as_deref(),
        "127.0.0.1:8080",
    )?;

    let mut monitor = super::monitor::monitor_config(&file, &args.chain)?;
    for value in &args.watch {
        let set = parse_watch(value).map_err(|reason| WATCH_KEY.invalid(value, reason))?;
        if !monitor.watch.contains(&set) {
            monitor.watch.push(set);
        }
    }
    monitor.validate().context(
        "fix the [monitor] section of quartz.toml, or the flags that override it (--rpc-url, --release-manager, \
         --start-block, --watch)",
    )?;

    // One list of registries for both sides: the factory verifies an image, the runtime pulls it.
    let mut factory = file.factory.clone();
    let mut runtime = file.runtime.clone();
    runtime.unsandboxed |= args.unsandboxed;
    let policy = &mut factory.registries;
    for host in args.allow_registries.iter().chain(&args.insecure_registries) {
        push_unique(&mut policy.allowed_registries, host);
    }
    for host in &args.insecure_registries {
        push_unique(&mut policy.insecure_registries, host);
    }
    merge_registries(policy, &runtime);
    runtime.allowed_registries = policy.allowed_registries.clone();
    runtime.insecure_registries = policy.insecure_registries.clone();
    factory
        .validate()
        .context("fix the [factory] section of quartz.toml, or --allow-registry / --insecure-registry")?;

    let data_dir = config::data_dir(global, &file);
    let store =
        Store::open_in(&data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let token = match file.registry.token.clone() {
        Some(token) => token,
        None => super::registry::load_or_create_token(&data_dir.join(super::registry::TOKEN_FILE))?,
    };

    // Bind everything before starting anything, so that a taken port fails fast and cleanly.
    let registry_listener = crate::serve::bind("registry", registry_addr).await?;
    let runtime_listener = crate::serve::bind("runtime", runtime_addr).await?;
    let adapter_listener = crate::serve::bind("adapter", adapter_addr).await?;
    let registry_url = format!("http://{}", registry_listener.local_addr()?);
    let adapter_bound = adapter_listener.local_addr()?;

    let shutdown = crate::serve::shutdown_on_signals();
    let runtime_handle = quartz_runtime::serve(runtime, &data_dir, store.clone(), runtime_listener, shutdown.clone())
        .await
        .context("cannot start the local runtime (run `quartz doctor`, or pass --unsandboxed)")?;
    let lambda = quartz_lambda_client::LambdaClientConfig {
        endpoint: Some(runtime_handle.endpoint()),
        region: file.lambda.region.clone().unwrap_or_else(|| "us-east-1".into()),
    };
    let runtime_url = runtime_handle.endpoint();
    // The adapter invokes the runtime in this process directly: no HTTP hop on the task path.
    let local_runtime = runtime_handle.local_invoker();

    let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
    tasks.spawn(async move { ("runtime", runtime_handle.wait().await.map_err(Into::into)) });

    let registry_client = quartz_lambda_client::build_client(&lambda, Duration::from_secs(5)).await;
    let registry_state = RegistryState::new(store.clone(), registry_client, Some(token));
    let stop = shutdown.clone();
    tasks.spawn(async move {
        let served = quartz_registry::serve(registry_listener, registry_state, stop).await;
        ("registry", served.map_err(Into::into))
    });

    let adapter_config = quartz_adapter::AdapterConfig {
        avs_address: None,
        operator_set_id: None,
        lambda: lambda.clone(),
        lambda_api_endpoint: None,
        local_runtime: None,
        ..file.adapter.clone()
    };
    let adapter_deps = AdapterDeps {
        store: Some(store.clone()),
        lambda: None,
        local_runtime: Some(local_runtime),
    };
    let stop = shutdown.clone();
    tasks.spawn(async move {
        let served = quartz_adapter::serve(adapter_config, adapter_deps, adapter_listener, stop).await;
        ("adapter", served.map_err(Into::into))
    });

    let factory_deps = FactoryDeps {
        store: store.clone(),
        lambda: quartz_lambda_client::build_client(&lambda, FACTORY_READ_TIMEOUT).await,
        availability: Arc::new(LocalAvailability),
        work_dir: data_dir.join("factory"),
    };
    let stop = shutdown.clone();
    tasks.spawn(async move {
        (
            "factory",
            quartz_factory::run(factory, factory_deps, stop)
                .await
                .map_err(Into::into),
        )
    });

    let watching = describe_watch(&monitor);
    let stop = shutdown.clone();
    tasks.spawn(async move {
        (
            "monitor",
            quartz_monitor::run(monitor, store, stop).await.map_err(Into::into),
        )
    });

    println!("quartz up: ready (data dir {})", data_dir.display());
    println!("  registry API    {registry_url}/performers");
    println!("  web page        {registry_url}/ui");
    println!("  executions      {registry_url}/executions");
    println!("  metrics         {registry_url}/metrics");
    println!("  Lambda API      {runtime_url}");
    println!("  tasks (HTTP)    http://{adapter_bound}/perform");
    println!("  tasks (gRPC)    {adapter_bound} (PerformerService)");
    println!("  watching        {watching}");
    println!("Ctrl-C or SIGTERM stops it; a restart resumes where it stopped.");

    supervise(tasks, shutdown).await
}

/// Waits for Ctrl-C or the first component to stop. One stopping alone is an error: the others
/// are stopped too, and `up` reports which one ended it.
async fn supervise(
    mut tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut first_error: Option<anyhow::Error> = None;
    tokio::select! {
        () = shutdown.cancelled() => {}
        Some(joined) = tasks.join_next() => {
            let error = match joined {
                Ok((name, Ok(()))) => anyhow::anyhow!("the {name} stopped on its own"),
                Ok((name, Err(error))) => error.context(format!("the {name} failed")),
                Err(join) => anyhow::anyhow!("a component panicked: {join}"),
            };
            tracing::error!(target: "quartz", error = format!("{error:#}"), "stopping every component");
            first_error = Some(error);
            shutdown.cancel();
        }
    }
    let drained = tokio::time::timeout(STOP_TIMEOUT, async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((name, Err(error))) if first_error.is_none() => {
                    first_error = Some(error.context(format!("the {name} failed while stopping")));
                }
                Ok(_) => {}
                Err(join) => tracing::error!(target: "quartz", %join, "a component panicked while stopping"),
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(target: "quartz", ?STOP_TIMEOUT, "components still running; exiting anyway");
    }
    match first_error {
        Some(error) => Err(error),
        None => {
            eprintln!("quartz up: stopped");
            Ok(())
        }
    }
}

/// `[runtime]`'s registries added to `[factory.registries]`: one list serves both sides (and
/// `quartz doctor` checks the same list).
pub(crate) fn merge_registries(policy: &mut quartz_oci::RegistryPolicy, runtime: &quartz_runtime::RuntimeConfig) {
    for host in &runtime.allowed_registries {
        push_unique(&mut policy.allowed_registries, host);
    }
    for host in &runtime.insecure_registries {
        push_unique(&mut policy.insecure_registries, host);
    }
}

fn push_unique(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

fn describe_watch(monitor: &quartz_monitor::MonitorConfig) -> String {
    let contract = monitor
        .release_manager
        .map(|a| a.to_string())
        .unwrap_or_else(|| "the chain's ReleaseManager".into());
    let sets = match monitor.discover {
        quartz_monitor::Discover::All => "every operator set".to_string(),
        quartz_monitor::Discover::Watched if monitor.watch.is_empty() => {
            "operator sets in the registry (add --watch AVS:ID for new ones)".to_string()
        }
        quartz_monitor::Discover::Watched => {
            let sets: Vec<String> = monitor
                .watch
                .iter()
                .map(|w| format!("{}:{}", w.avs, w.operator_set_id))
                .collect();
            format!("{} and the registry's", sets.join(", "))
        }
    };
    format!("{contract} on {} for {sets}", monitor.rpc_urls.join(", "))
}
