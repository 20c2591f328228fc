//! Prometheus metrics of the factory.

use std::time::Duration;

use crate::workflow::StepId;

/// Executions by outcome (`succeeded`, `failed`).
pub const EXECUTIONS: &str = "quartz_factory_executions_total";
/// Duration of each step attempt, by step and outcome (`ok`, `error`).
pub const STEP_DURATION: &str = "quartz_factory_step_duration_seconds";

pub(crate) fn execution_finished(outcome: &'static str) {
    metrics::counter!(EXECUTIONS, "outcome" => outcome).increment(1);
}

pub(crate) fn step_finished(step: StepId, ok: bool, elapsed: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::histogram!(STEP_DURATION, "step" => step.as_str(), "outcome" => outcome).record(elapsed.as_secs_f64());
}
