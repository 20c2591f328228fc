//! The deployment workflow, described once as data. The local engine ([`crate::engine`]) runs it
//! step by step; a later issue renders the same description as a Step Functions state machine:
//! each [`StepSpec`] becomes a `Task` state whose `Retry` matches [`ErrorClass::Retryable`] with
//! the step's [`RetryPolicy`], and whose `Catch` sends every error to [`WORKFLOW`]'s
//! `on_failure` state, which records the failure and leaves `live` alone.

use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorClass;

/// One step of the workflow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    Validate,
    Resolve,
    MakeAvailable,
    Deploy,
    Publish,
    SmokeCheck,
    Promote,
    Register,
}

impl StepId {
    pub const ALL: [Self; 8] = [
        Self::Validate,
        Self::Resolve,
        Self::MakeAvailable,
        Self::Deploy,
        Self::Publish,
        Self::SmokeCheck,
        Self::Promote,
        Self::Register,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Resolve => "resolve",
            Self::MakeAvailable => "make-available",
            Self::Deploy => "deploy",
            Self::Publish => "publish",
            Self::SmokeCheck => "smoke-check",
            Self::Promote => "promote",
            Self::Register => "register",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Step Functions' retrier, field for field (`IntervalSeconds`, `MaxAttempts`, `BackoffRate`,
/// `MaxDelaySeconds`), applied to errors of class [`ErrorClass::Retryable`] only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    pub retry_on: ErrorClass,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub interval_ms: u64,
    pub backoff_rate: f64,
    pub max_delay_ms: u64,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, after `attempt` (1-based) failed.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = self.backoff_rate.powi(attempt.saturating_sub(1).min(30) as i32);
        let ms = (self.interval_ms as f64 * factor).min(self.max_delay_ms as f64);
        Duration::from_millis(ms as u64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSpec {
    pub id: StepId,
    /// What the step does, for people and for the state machine's `Comment`.
    pub comment: &'static str,
    pub retry: RetryPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    pub name: &'static str,
    pub steps: &'static [StepSpec],
    /// The state every final error (or exhausted retry) goes to.
    pub on_failure: &'static str,
}

impl WorkflowSpec {
    pub fn step(&self, id: StepId) -> &StepSpec {
        // Every StepId is in WORKFLOW (checked by a unit test), so the fallback is unreachable.
        self.steps.iter().find(|s| s.id == id).unwrap_or(&self.steps[0])
    }
}

const fn retry(max_attempts: u32, interval_ms: u64) -> RetryPolicy {
    RetryPolicy {
        retry_on: ErrorClass::Retryable,
        max_attempts,
        interval_ms,
        backoff_rate: 2.0,
        max_delay_ms: 30_000,
    }
}

/// The factory's workflow.
pub const WORKFLOW: WorkflowSpec = WorkflowSpec {
    name: "quartz-factory",
    on_failure: "record-failure",
    steps: &[
        StepSpec {
            id: StepId::Validate,
            comment: "Refuse an empty artifact list, an unparsable reference and a releaseId not newer than live; choose the artifact",
            retry: retry(3, 1_000),
        },
        StepSpec {
            id: StepId::Resolve,
            comment: "Fetch the manifest by digest, verify every byte, pick linux/amd64 from an index",
            retry: retry(4, 2_000),
        },
        StepSpec {
            id: StepId::MakeAvailable,
            comment: "Make the image available to the platform (local: pulled by digest; AWS: mirrored into ECR)",
            retry: retry(4, 2_000),
        },
        StepSpec {
            id: StepId::Deploy,
            comment: "Create or update the function pinned to the digest; wait on State and LastUpdateStatus",
            retry: retry(6, 1_000),
        },
        StepSpec {
            id: StepId::Publish,
            comment: "PublishVersion with the CodeSha256 precondition",
            retry: retry(6, 1_000),
        },
        StepSpec {
            id: StepId::SmokeCheck,
            comment: "Invoke the new version with {\"type\":\"quartz.healthcheck\"}; init failure, crash or timeout fail",
            retry: retry(3, 1_000),
        },
        StepSpec {
            id: StepId::Promote,
            comment: "Move alias live to the new version (never backwards)",
            retry: retry(6, 1_000),
        },
        StepSpec {
            id: StepId::Register,
            comment: "Write the registry entry and its release history",
            retry: retry(6, 1_000),
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_described_once_in_order() {
        let ids: Vec<StepId> = WORKFLOW.steps.iter().map(|s| s.id).collect();
        assert_eq!(ids, StepId::ALL.to_vec());
        for id in StepId::ALL {
            assert_eq!(StepId::parse(id.as_str()), Some(id));
        }
    }

    #[test]
    fn the_description_serialises_for_a_state_machine_renderer() {
        let json = serde_json::to_value(WORKFLOW).unwrap();
        assert_eq!(json["name"], "quartz-factory");
        assert_eq!(json["onFailure"], "record-failure");
        assert_eq!(json["steps"][3]["id"], "deploy");
        assert_eq!(json["steps"][3]["retry"]["retryOn"], "retryable");
        assert_eq!(json["steps"][3]["retry"]["maxAttempts"], 6);
        assert_eq!(ErrorClass::Retryable.state_machine_error(), "Quartz.Retryable");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = retry(10, 1_000);
        assert_eq!(policy.delay_after(1), Duration::from_secs(1));
        assert_eq!(policy.delay_after(2), Duration::from_secs(2));
        assert_eq!(policy.delay_after(9), Duration::from_secs(30));
    }
}
