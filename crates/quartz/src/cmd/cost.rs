use anyhow::Context;
use quartz_aws_stack::cost::{self, Prices, Usage};

/// `quartz cost`: the monthly cost of Quartz on AWS for a task volume, from list prices
/// (us-east-1 by default; every price can be overridden).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tasks per month.
    #[arg(long, value_name = "N")]
    tasks: u64,
    /// Average task duration in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    duration_ms: f64,
    /// Performer memory in MB (the factory's default is 3008).
    #[arg(long, value_name = "MB", default_value_t = 3008)]
    memory_mb: u32,
    /// Releases deployed per month.
    #[arg(long, value_name = "N", default_value_t = 4)]
    releases: u64,
    /// API Gateway requests per task (1: the adapter uses LAMBDA_API_ENDPOINT; 0: direct invoke).
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    api_requests_per_task: f64,
    /// Registry reads per task (the adapter's lookup; 0 when cached).
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    registry_reads_per_task: f64,
    /// Minutes between monitor runs (the stack's schedule is 5).
    #[arg(long, value_name = "MIN", default_value_t = 5)]
    monitor_interval_minutes: u32,
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    monitor_duration_ms: f64,
    #[arg(long, value_name = "MB", default_value_t = 512)]
    monitor_memory_mb: u32,
    /// Average duration of one factory step invocation.
    #[arg(long, value_name = "MS", default_value_t = 2000.0)]
    factory_duration_ms: f64,
    #[arg(long, value_name = "MB", default_value_t = 1024)]
    factory_memory_mb: u32,
    /// USD per million Lambda requests.
    #[arg(long, value_name = "USD", default_value_t = Prices::default().lambda_per_million_requests)]
    price_lambda_requests: f64,
    /// USD per Lambda GB-second (x86_64).
    #[arg(long, value_name = "USD", default_value_t = Prices::default().lambda_per_gb_second)]
    price_lambda_gb_second: f64,
    /// USD per thousand Step Functions (Standard) state transitions.
    #[arg(long, value_name = "USD", default_value_t = Prices::default().step_functions_per_thousand_transitions)]
    price_step_functions: f64,
    /// USD per million DynamoDB on-demand read requests.
    #[arg(long, value_name = "USD", default_value_t = Prices::default().dynamodb_per_million_reads)]
    price_dynamodb_reads: f64,
    /// USD per million DynamoDB on-demand write requests.
    #[arg(long, value_name = "USD", default_value_t = Prices::default().dynamodb_per_million_writes)]
    price_dynamodb_writes: f64,
    /// USD per million API Gateway REST requests.
    #[arg(long, value_name = "USD", default_value_t = Prices::default().api_gateway_per_million_requests)]
    price_api_gateway: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let usage = Usage {
        api_requests_per_task: args.api_requests_per_task,
        registry_reads_per_task: args.registry_reads_per_task,
        monitor_interval_minutes: args.monitor_interval_minutes,
        monitor_duration_ms: args.monitor_duration_ms,
        monitor_memory_mb: args.monitor_memory_mb,
        factory_step_duration_ms: args.factory_duration_ms,
        factory_step_memory_mb: args.factory_memory_mb,
        ..Usage::new(args.tasks, args.duration_ms, args.memory_mb, args.releases)
    };
    let prices = Prices {
        lambda_per_million_requests: args.price_lambda_requests,
        lambda_per_gb_second: args.price_lambda_gb_second,
        step_functions_per_thousand_transitions: args.price_step_functions,
        dynamodb_per_million_reads: args.price_dynamodb_reads,
        dynamodb_per_million_writes: args.price_dynamodb_writes,
        api_gateway_per_million_requests: args.price_api_gateway,
    };
    let estimate = cost::estimate(&usage, &prices)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&estimate).context("cannot print the estimate")?
        );
    } else {
        print!("{}", cost::table(&estimate));
    }
    Ok(())
}
