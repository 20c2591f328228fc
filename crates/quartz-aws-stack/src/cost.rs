//! The monthly cost model behind `quartz cost`: what Quartz on AWS costs for a given task
//! volume, from list prices that can be overridden. A month is 30 days; free tiers are ignored;
//! Lambda is billed per 1 ms on x86_64.

use serde::Serialize;

use crate::StackError;
use quartz_factory::workflow::WORKFLOW;

/// Prices in USD. Defaults: us-east-1 list prices (Lambda x86_64, Step Functions Standard,
/// DynamoDB on-demand after the November 2024 reduction, API Gateway REST first tier).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub lambda_per_million_requests: f64,
    pub lambda_per_gb_second: f64,
    pub step_functions_per_thousand_transitions: f64,
    pub dynamodb_per_million_reads: f64,
    pub dynamodb_per_million_writes: f64,
    pub api_gateway_per_million_requests: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            lambda_per_million_requests: 0.20,
            lambda_per_gb_second: 0.000_016_666_7,
            step_functions_per_thousand_transitions: 0.025,
            dynamodb_per_million_reads: 0.125,
            dynamodb_per_million_writes: 0.625,
            api_gateway_per_million_requests: 3.50,
        }
    }
}

/// What is being costed. The control plane's figures default to the template's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub tasks_per_month: u64,
    pub task_duration_ms: f64,
    pub task_memory_mb: u32,
    /// Releases deployed per month (each one execution of the state machine).
    pub releases_per_month: u64,
    /// API Gateway requests per task: 1 when the adapter invokes through `LAMBDA_API_ENDPOINT`
    /// (the seed's way), 0 when it invokes Lambda directly.
    pub api_requests_per_task: f64,
    /// Registry reads per task (the adapter's lookup of the live function; 0 when it caches).
    pub registry_reads_per_task: f64,
    pub monitor_interval_minutes: u32,
    pub monitor_duration_ms: f64,
    pub monitor_memory_mb: u32,
    pub factory_step_duration_ms: f64,
    pub factory_step_memory_mb: u32,
}

impl Usage {
    /// A usage with the control plane as `quartz synth` sets it up.
    pub fn new(tasks_per_month: u64, task_duration_ms: f64, task_memory_mb: u32, releases_per_month: u64) -> Self {
        Self {
            tasks_per_month,
            task_duration_ms,
            task_memory_mb,
            releases_per_month,
            api_requests_per_task: 1.0,
            registry_reads_per_task: 1.0,
            monitor_interval_minutes: 5,
            monitor_duration_ms: 1_000.0,
            monitor_memory_mb: 512,
            factory_step_duration_ms: 2_000.0,
            factory_step_memory_mb: 1024,
        }
    }
}

/// One line of the estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub item: &'static str,
    pub quantity: f64,
    pub unit: &'static str,
    pub usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    pub usage: Usage,
    pub prices: Prices,
    pub lines: Vec<Line>,
    pub total_usd: f64,
    /// What the model leaves out.
    pub excluded: &'static str,
}

/// Writes per deployment: the registry entry and its release-history record.
pub const WRITES_PER_DEPLOYMENT: u64 = 2;
const MINUTES_PER_MONTH: u64 = 30 * 24 * 60;

fn check(usage: &Usage, prices: &Prices) -> Result<(), StackError> {
    let memory = |flag: &'static str, mb: u32| {
        if (128..=10_240).contains(&mb) {
            Ok(())
        } else {
            Err(StackError::input(
                flag,
                format!("{mb} MB is outside Lambda's 128-10240 MB"),
            ))
        }
    };
    memory("--memory-mb", usage.task_memory_mb)?;
    memory("--monitor-memory-mb", usage.monitor_memory_mb)?;
    memory("--factory-memory-mb", usage.factory_step_memory_mb)?;
    let non_negative = [
        ("--duration-ms", usage.task_duration_ms),
        ("--api-requests-per-task", usage.api_requests_per_task),
        ("--registry-reads-per-task", usage.registry_reads_per_task),
        ("--monitor-duration-ms", usage.monitor_duration_ms),
        ("--factory-duration-ms", usage.factory_step_duration_ms),
        ("--price-lambda-requests", prices.lambda_per_million_requests),
        ("--price-lambda-gb-second", prices.lambda_per_gb_second),
        ("--price-step-functions", prices.step_functions_per_thousand_transitions),
        ("--price-dynamodb-reads", prices.dynamodb_per_million_reads),
        ("--price-dynamodb-writes", prices.dynamodb_per_million_writes),
        ("--price-api-gateway", prices.api_gateway_per_million_requests),
    ];
    for (flag, value) in non_negative {
        if !value.is_finite() || value < 0.0 {
            return Err(StackError::input(flag, format!("{value} must be a number ≥ 0")));
        }
    }
    if usage.task_duration_ms > 900_000.0 {
        return Err(StackError::input(
            "--duration-ms",
            "Lambda's timeout is at most 900000 ms",
        ));
    }
    if usage.monitor_interval_minutes == 0 {
        return Err(StackError::input("--monitor-interval-minutes", "must be at least 1"));
    }
    Ok(())
}

/// Lambda bills whole milliseconds.
fn gb_seconds(invocations: f64, duration_ms: f64, memory_mb: u32) -> f64 {
    invocations * duration_ms.ceil() / 1000.0 * f64::from(memory_mb) / 1024.0
}

/// State transitions of one successful deployment: one per step (each retry adds one).
pub fn transitions_per_deployment() -> u64 {
    WORKFLOW.steps.len() as u64
}

pub fn estimate(usage: &Usage, prices: &Prices) -> Result<Estimate, StackError> {
    check(usage, prices)?;
    let tasks = usage.tasks_per_month as f64;
    let releases = usage.releases_per_month as f64;
    let polls = (MINUTES_PER_MONTH / u64::from(usage.monitor_interval_minutes)) as f64;
    let step_invocations = releases * transitions_per_deployment() as f64;

    let control_gb_s = gb_seconds(polls, usage.monitor_duration_ms, usage.monitor_memory_mb)
        + gb_seconds(
            step_invocations,
            usage.factory_step_duration_ms,
            usage.factory_step_memory_mb,
        );
    let task_gb_s = gb_seconds(tasks, usage.task_duration_ms, usage.task_memory_mb);
    let transitions = releases * transitions_per_deployment() as f64;
    // The monitor reads the known sets and writes its checkpoint item once per poll.
    let reads = tasks * usage.registry_reads_per_task + polls;
    let writes = releases * WRITES_PER_DEPLOYMENT as f64 + polls;
    let api = tasks * usage.api_requests_per_task;

    let lines = vec![
        line(
            "performer requests",
            tasks,
            "requests",
            tasks * prices.lambda_per_million_requests / 1e6,
        ),
        line(
            "performer compute",
            task_gb_s,
            "GB-s",
            task_gb_s * prices.lambda_per_gb_second,
        ),
        line(
            "control-plane requests (monitor, factory steps)",
            polls + step_invocations,
            "requests",
            (polls + step_invocations) * prices.lambda_per_million_requests / 1e6,
        ),
        line(
            "control-plane compute",
            control_gb_s,
            "GB-s",
            control_gb_s * prices.lambda_per_gb_second,
        ),
        line(
            "Step Functions transitions",
            transitions,
            "transitions",
            transitions * prices.step_functions_per_thousand_transitions / 1e3,
        ),
        line(
            "DynamoDB reads",
            reads,
            "read requests",
            reads * prices.dynamodb_per_million_reads / 1e6,
        ),
        line(
            "DynamoDB writes",
            writes,
            "write requests",
            writes * prices.dynamodb_per_million_writes / 1e6,
        ),
        line(
            "API Gateway",
            api,
            "requests",
            api * prices.api_gateway_per_million_requests / 1e6,
        ),
    ];
    let total_usd = lines.iter().map(|l| l.usd).sum();
    Ok(Estimate {
        usage: usage.clone(),
        prices: prices.clone(),
        lines,
        total_usd,
        excluded: EXCLUDED,
    })
}

const EXCLUDED: &str = "free tiers; CloudWatch Logs ingestion and storage; ECR storage \
    (the lifecycle keeps the live and previous image of each function plus 10 others); \
    data transfer; the Executor's and the adapter's own hosting";

fn line(item: &'static str, quantity: f64, unit: &'static str, usd: f64) -> Line {
    Line {
        item,
        quantity,
        unit,
        usd,
    }
}

/// The estimate as a table for people.
pub fn table(estimate: &Estimate) -> String {
    let u = &estimate.usage;
    let mut out = format!(
        "{} tasks/month x {} ms x {} MB, {} releases/month\n\n{:<50} {:>16} {:<15} {:>10}\n",
        u.tasks_per_month,
        u.task_duration_ms,
        u.task_memory_mb,
        u.releases_per_month,
        "item",
        "quantity",
        "unit",
        "USD"
    );
    for l in &estimate.lines {
        out.push_str(&format!(
            "{:<50} {:>16.1} {:<15} {:>10.4}\n",
            l.item, l.quantity, l.unit, l.usd
        ));
    }
    out.push_str(&format!(
        "{:<50} {:>16} {:<15} {:>10.2}\n",
        "total per month", "", "", estimate.total_usd
    ));
    out.push_str(&format!("\nnot included: {}\n", estimate.excluded));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(estimate: &Estimate, item: &str) -> f64 {
        estimate.lines.iter().find(|l| l.item == item).unwrap().usd
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// The seed's medium tier (10,000 tasks/month), at 1 s and 3008 MB (the factory's default
    /// memory) with 4 releases a month, computed by hand:
    /// - performers: 10,000 x 1 s x 3008/1024 GB = 29,375 GB-s x $0.0000166667 = $0.489584;
    ///   10,000 requests x $0.20/M = $0.002;
    /// - monitor every 5 min: 43,200/5 = 8,640 polls x 1 s x 0.5 GB = 4,320 GB-s; factory: 4 x 8
    ///   steps = 32 x 2 s x 1 GB = 64 GB-s; 4,384 GB-s = $0.073067; 8,672 requests = $0.0017344;
    /// - Step Functions: 32 transitions x $0.025/1000 = $0.0008;
    /// - DynamoDB: reads 10,000 + 8,640 = 18,640 x $0.125/M = $0.00233;
    ///   writes 4 x 2 + 8,640 = 8,648 x $0.625/M = $0.005405;
    /// - API Gateway: 10,000 x $3.50/M = $0.035.
    #[test]
    fn the_medium_tier_by_hand() {
        let e = estimate(&Usage::new(10_000, 1_000.0, 3008, 4), &Prices::default()).unwrap();
        assert!(close(e.lines[1].quantity, 29_375.0));
        assert!(
            close(usd(&e, "performer compute"), 0.489_584_3),
            "{}",
            usd(&e, "performer compute")
        );
        assert!(close(usd(&e, "performer requests"), 0.002));
        assert!(close(e.lines[3].quantity, 4_384.0));
        assert!(
            close(usd(&e, "control-plane compute"), 0.073_066_8),
            "{}",
            usd(&e, "control-plane compute")
        );
        assert!(close(
            usd(&e, "control-plane requests (monitor, factory steps)"),
            0.001_734_4
        ));
        assert!(close(usd(&e, "Step Functions transitions"), 0.000_8));
        assert!(close(usd(&e, "DynamoDB reads"), 0.002_33));
        assert!(close(usd(&e, "DynamoDB writes"), 0.005_405));
        assert!(close(usd(&e, "API Gateway"), 0.035));
        let hand = 0.489_584_3 + 0.002 + 0.073_066_8 + 0.001_734_4 + 0.000_8 + 0.002_33 + 0.005_405 + 0.035;
        assert!(close(e.total_usd, hand), "{} vs {hand}", e.total_usd);
    }

    #[test]
    fn durations_bill_whole_milliseconds_and_prices_override() {
        let usage = Usage::new(1_000, 0.4, 1024, 0);
        let e = estimate(&usage, &Prices::default()).unwrap();
        assert!(close(e.lines[1].quantity, 1.0), "1,000 x 1 ms x 1 GB");
        let free = Prices {
            api_gateway_per_million_requests: 0.0,
            ..Prices::default()
        };
        assert_eq!(usd(&estimate(&usage, &free).unwrap(), "API Gateway"), 0.0);
    }

    #[test]
    fn bad_input_names_the_flag() {
        let err = estimate(&Usage::new(1, 1.0, 64, 0), &Prices::default()).unwrap_err();
        assert!(err.to_string().starts_with("--memory-mb"), "{err}");
        let err = estimate(&Usage::new(1, -1.0, 128, 0), &Prices::default()).unwrap_err();
        assert!(err.to_string().starts_with("--duration-ms"), "{err}");
        let prices = Prices {
            lambda_per_gb_second: f64::NAN,
            ..Prices::default()
        };
        let err = estimate(&Usage::new(1, 1.0, 128, 0), &prices).unwrap_err();
        assert!(err.to_string().starts_with("--price-lambda-gb-second"), "{err}");
    }
}
