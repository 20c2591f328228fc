//! `quartz`: parse the command line, set up tracing, load configuration, run the subcommand.

mod cmd;
mod config;
mod serve;

use clap::{Parser, Subcommand};

/// Quartz runs EigenLayer AVS performers as serverless functions: it watches the ReleaseManager,
/// deploys each release as a function, keeps a registry of what serves what, and routes the
/// Executor's tasks to the live function.
#[derive(Parser)]
#[command(name = "quartz", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: config::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the performer registry HTTP API.
    Registry(cmd::registry::Args),
    /// Watch the ReleaseManager and queue every release for deployment, exactly once.
    Monitor(cmd::monitor::Args),
    /// Serve the local runtime: the Lambda API, running OCI-image functions under bubblewrap.
    Runtime(cmd::runtime::Args),
    /// Print a function's log on the local runtime.
    Logs(cmd::logs::Args),
    /// Package a static binary as a minimal OCI image, push it, and print its pinned digest.
    Package(cmd::package::Args),
    /// Serve the Executor's performer endpoint (gRPC and HTTP), routed to the live function.
    Adapter(cmd::adapter::Args),
    /// List or show the factory's deployment executions.
    Executions(cmd::executions::Args),
    /// Move an operator set's `live` alias back to an earlier release, and record it.
    Rollback(cmd::rollback::Args),
    /// Run the whole pipeline in one process: monitor, factory, local runtime, registry API
    /// with its web page, and adapter, over one store.
    Up(cmd::up::Args),
    /// Publish a release on the ReleaseManager (for AVS developers).
    Release(cmd::release::Args),
    /// Chain head, monitor checkpoint and lag, deployments in flight or failed, live performers.
    Status(cmd::status::Args),
    /// List or show performers and their release history, from the store.
    Performers(cmd::performers::Args),
    /// Check each dependency (RPC, contract, sandbox, registries, data dir, clock, Lambda API).
    Doctor(cmd::doctor::Args),
    /// Print the CloudFormation template of Quartz on AWS.
    Synth(cmd::synth::Args),
    /// Estimate the monthly AWS cost for a task volume.
    Cost(cmd::cost::Args),
    /// Build the handlers, upload them and create or update the CloudFormation stack.
    Deploy(cmd::deploy::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    quartz_telemetry::init_tracing(cli.global.verbose, cli.global.log_format.into());
    // Installed before any component records a metric, so that none is lost.
    quartz_telemetry::prometheus();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Registry(args) => cmd::registry::run(&cli.global, args).await,
            Command::Monitor(args) => cmd::monitor::run(&cli.global, args).await,
            Command::Runtime(args) => cmd::runtime::run(&cli.global, args).await,
            Command::Logs(args) => cmd::logs::run(&cli.global, args).await,
            Command::Package(args) => cmd::package::run(args).await,
            Command::Adapter(args) => cmd::adapter::run(&cli.global, args).await,
            Command::Executions(args) => cmd::executions::run(&cli.global, args).await,
            Command::Rollback(args) => cmd::rollback::run(&cli.global, args).await,
            Command::Release(args) => cmd::release::run(&cli.global, args).await,
            Command::Status(args) => cmd::status::run(&cli.global, args).await,
            Command::Performers(args) => cmd::performers::run(&cli.global, args).await,
            Command::Doctor(args) => cmd::doctor::run(&cli.global, args).await,
            Command::Up(args) => cmd::up::run(&cli.global, args).await,
            Command::Synth(args) => cmd::synth::run(args),
            Command::Cost(args) => cmd::cost::run(args),
            Command::Deploy(args) => cmd::deploy::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
