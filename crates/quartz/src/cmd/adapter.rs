use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context;
use quartz_adapter::{AdapterConfig, AdapterDeps, Mode};
use quartz_store::Store;

use crate::config::{self, FileConfig, GlobalArgs, Key};

/// `quartz adapter`: the Executor's performer endpoint (Hourglass gRPC and the seed's HTTP API
/// on one port). With AVS_ADDRESS and OPERATOR_SET_ID it serves that operator set; with neither
/// it routes each task through the registry in the data dir.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port for gRPC and HTTP, on all interfaces unless --listen says otherwise.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Address to serve on, overriding --port; port 0 picks a free one.
    #[arg(long, env = "QUARTZ_ADAPTER_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    /// The AVS served in single-performer mode (needs --operator-set-id).
    #[arg(long, env = "AVS_ADDRESS", value_name = "ADDRESS")]
    avs_address: Option<String>,
    /// The operator set served in single-performer mode (needs --avs-address).
    #[arg(long, env = "OPERATOR_SET_ID", value_name = "ID")]
    operator_set_id: Option<String>,
    /// Invoke through API Gateway (POST {base}/task) instead of the Lambda API.
    #[arg(long, env = "LAMBDA_API_ENDPOINT", value_name = "URL")]
    lambda_api_endpoint: Option<String>,
    /// Lambda API endpoint [default: AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, else AWS].
    #[arg(long, env = "QUARTZ_LAMBDA_ENDPOINT", value_name = "URL")]
    lambda_endpoint: Option<String>,
    /// Invoke Quartz's own local runtime (`quartz runtime`) at URL over plain HTTP, without the
    /// AWS SDK's signing, as `quartz up` does.
    #[arg(long, env = "QUARTZ_LOCAL_RUNTIME", value_name = "URL",
          conflicts_with_all = ["lambda_endpoint", "lambda_api_endpoint"])]
    local_runtime: Option<String>,
    /// AWS region of the Lambda API.
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    /// The functions' timeout in seconds; invocations wait a little longer [default: 900].
    #[arg(long, env = "QUARTZ_FUNCTION_TIMEOUT_SECS", value_name = "SECS")]
    function_timeout_secs: Option<u64>,
    /// How long in-flight tasks may finish after SIGTERM [default: 30].
    #[arg(long, env = "QUARTZ_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    shutdown_grace_secs: Option<u64>,
}

const LISTEN_KEY: Key = Key {
    name: "adapter_listen",
    flag: "--listen",
    env: "QUARTZ_ADAPTER_LISTEN",
};

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let file = FileConfig::load(global.config.as_deref())?;
    let listen = match args.listen.as_deref().or(file.adapter_listen.as_deref()) {
        Some(value) => LISTEN_KEY.resolve(Some(value), None, "", config::parse_listen)?,
        None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), args.port),
    };
    let base = file.adapter.clone();
    if base.lambda != quartz_lambda_client::LambdaClientConfig::default() {
        anyhow::bail!("[adapter.lambda] in quartz.toml is not read: set the Lambda API in [lambda] (endpoint, region)");
    }
    // The SDK's own endpoint variables, passed explicitly so that a local endpoint works
    // without AWS credentials.
    let sdk_endpoint = ["AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    let endpoint = args.lambda_endpoint.clone().or(sdk_endpoint);
    let lambda = config::lambda_config(endpoint.as_deref(), args.region.as_deref(), &file.lambda)?;
    // Flags and env over [adapter] in quartz.toml.
    let adapter = AdapterConfig {
        avs_address: args.avs_address.or(base.avs_address.clone()),
        operator_set_id: args.operator_set_id.or(base.operator_set_id.clone()),
        lambda,
        lambda_api_endpoint: args.lambda_api_endpoint.or(base.lambda_api_endpoint.clone()),
        local_runtime: args.local_runtime.or(base.local_runtime.clone()),
        function_timeout_secs: args.function_timeout_secs.unwrap_or(base.function_timeout_secs),
        shutdown_grace_secs: args.shutdown_grace_secs.unwrap_or(base.shutdown_grace_secs),
        ..base
    };
    let settings = adapter.validate()?;
    let mut deps = AdapterDeps::default();
    if settings.mode == Mode::Registry {
        let data_dir = config::data_dir(global, &file);
        let store =
            Store::open_in(&data_dir).with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
        eprintln!(
            "no AVS_ADDRESS/OPERATOR_SET_ID: routing every task through the registry in {}",
            data_dir.display()
        );
        deps.store = Some(store);
    }
    let shutdown = crate::serve::shutdown_on_signals();
    let listener = crate::serve::bind("adapter", listen).await?;
    quartz_adapter::serve(adapter, deps, listener, shutdown).await?;
    Ok(())
}
