//! `[factory]` in quartz.toml.

use std::time::Duration;

use quartz_core::AvsAddress;
use quartz_oci::RegistryPolicy;
use serde::{Deserialize, Serialize};

use crate::FactoryError;
use crate::workflow::RetryPolicy;

/// Lambda's limits for the settings a deployment may choose.
const TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=900;
const MEMORY_RANGE: std::ops::RangeInclusive<u32> = 128..=10_240;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactoryConfig {
    /// How often the outbox is polled when it was empty.
    pub poll_interval_ms: u64,
    /// How long a claimed release stays ours without renewal. A running factory renews it every
    /// third of this; a factory that dies loses it after this, and a restart resumes it.
    pub claim_lease_secs: u64,
    /// The function settings every deployment starts from (the seed's: 300 s, 3008 MB).
    pub function: FunctionSettings,
    /// Per operator set settings, replacing `function`'s timeout/memory where given.
    pub overrides: Vec<FunctionOverride>,
    /// How long deploy waits for `State`/`LastUpdateStatus` to settle before retrying.
    pub settle_timeout_secs: u64,
    /// Replaces the retry interval and cap of every step (tests shorten them).
    pub retry_interval_ms: Option<u64>,
    pub retry_max_delay_ms: Option<u64>,
    /// Which registries `resolve` may fetch from.
    pub registries: RegistryPolicy,
    /// For crash tests only: a pause after each attempt is journaled as started and another
    /// before its end is journaled, widening the windows a `kill -9` must hit. Unset normally.
    pub crash_test_pause_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FunctionSettings {
    pub timeout_secs: u32,
    pub memory_mb: u32,
    /// The execution role passed to CreateFunction (the local runtime accepts any ARN).
    pub role_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionOverride {
    pub avs_address: AvsAddress,
    pub operator_set_id: u32,
    #[serde(default)]
    pub timeout_secs: Option<u32>,
    #[serde(default)]
    pub memory_mb: Option<u32>,
}

impl Default for FunctionSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 300,
            memory_mb: 3008,
            role_arn: "arn:aws:iam::000000000000:role/quartz-performer".to_string(),
        }
    }
}

impl Default for FactoryConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1_000,
            claim_lease_secs: 30,
            function: FunctionSettings::default(),
            overrides: Vec::new(),
            settle_timeout_secs: 300,
            retry_interval_ms: None,
            retry_max_delay_ms: None,
            registries: RegistryPolicy::default(),
            crash_test_pause_ms: None,
        }
    }
}

fn invalid(key: &'static str, reason: impl Into<String>) -> FactoryError {
    FactoryError::Config {
        key,
        reason: reason.into(),
    }
}

impl FactoryConfig {
    pub fn validate(&self) -> Result<(), FactoryError> {
        if self.poll_interval_ms == 0 {
            return Err(invalid("factory.poll_interval_ms", "must be at least 1"));
        }
        if self.claim_lease_secs == 0 {
            return Err(invalid("factory.claim_lease_secs", "must be at least 1"));
        }
        if self.settle_timeout_secs == 0 {
            return Err(invalid("factory.settle_timeout_secs", "must be at least 1"));
        }
        check_settings(
            "factory.function.timeout_secs",
            "factory.function.memory_mb",
            Some(self.function.timeout_secs),
            Some(self.function.memory_mb),
        )?;
        if !self.function.role_arn.starts_with("arn:") {
            return Err(invalid(
                "factory.function.role_arn",
                "must be an IAM role ARN (arn:...)",
            ));
        }
        for o in &self.overrides {
            check_settings(
                "factory.overrides.timeout_secs",
                "factory.overrides.memory_mb",
                o.timeout_secs,
                o.memory_mb,
            )?;
        }
        if self.retry_interval_ms == Some(0) {
            return Err(invalid("factory.retry_interval_ms", "must be at least 1"));
        }
        Ok(())
    }

    pub(crate) fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub(crate) fn lease(&self) -> Duration {
        Duration::from_secs(self.claim_lease_secs)
    }

    pub(crate) fn crash_test_pause(&self) -> Option<Duration> {
        self.crash_test_pause_ms.map(Duration::from_millis)
    }

    pub(crate) fn settle_timeout(&self) -> Duration {
        Duration::from_secs(self.settle_timeout_secs)
    }

    /// Timeout and memory for one operator set.
    pub(crate) fn settings_for(&self, avs: AvsAddress, operator_set_id: u32) -> (u32, u32) {
        let o = self
            .overrides
            .iter()
            .find(|o| o.avs_address == avs && o.operator_set_id == operator_set_id);
        (
            o.and_then(|o| o.timeout_secs).unwrap_or(self.function.timeout_secs),
            o.and_then(|o| o.memory_mb).unwrap_or(self.function.memory_mb),
        )
    }

    pub(crate) fn retry(&self, base: RetryPolicy) -> RetryPolicy {
        RetryPolicy {
            interval_ms: self.retry_interval_ms.unwrap_or(base.interval_ms),
            max_delay_ms: self.retry_max_delay_ms.unwrap_or(base.max_delay_ms),
            ..base
        }
    }
}

fn check_settings(
    timeout_key: &'static str,
    memory_key: &'static str,
    timeout: Option<u32>,
    memory: Option<u32>,
) -> Result<(), FactoryError> {
    if let Some(t) = timeout
        && !TIMEOUT_RANGE.contains(&t)
    {
        return Err(invalid(timeout_key, format!("{t} is outside Lambda's 1..=900 seconds")));
    }
    if let Some(m) = memory
        && !MEMORY_RANGE.contains(&m)
    {
        return Err(invalid(memory_key, format!("{m} is outside Lambda's 128..=10240 MB")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_and_valid() {
        let config = FactoryConfig::default();
        config.validate().unwrap();
        assert_eq!((config.function.timeout_secs, config.function.memory_mb), (300, 3008));
    }

    #[test]
    fn errors_name_the_key() {
        let mut config = FactoryConfig::default();
        config.function.memory_mb = 64;
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("factory.function.memory_mb"), "{error}");
        let parsed: Result<FactoryConfig, _> = serde_json::from_str(r#"{"pollIntervalMs": 5}"#);
        assert!(parsed.is_err());
    }
}
