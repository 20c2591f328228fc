use serde::{Deserialize, Serialize};

/// The `[runtime]` section of quartz.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Region and account shown in ARNs; any values work with the SDK.
    pub region: String,
    pub account_id: String,
    /// Concurrent invocations per function unless PutFunctionConcurrency sets another limit.
    pub default_concurrency: u32,
    /// How long an invocation waits for a free slot before `TooManyRequestsException`.
    pub queue_wait_ms: u64,
    /// Idle instances are stopped after this long.
    pub idle_timeout_secs: u64,
    /// How long a new instance may take to reach its first `/next` (Lambda's init phase).
    pub init_timeout_secs: u64,
    /// How long pulling and unpacking an image may take before the update fails.
    pub pull_timeout_secs: u64,
    /// Run functions directly on the host, without bubblewrap. For machines without it only:
    /// functions then see the host filesystem and can reach the data dir.
    pub unsandboxed: bool,
    /// The bubblewrap executable.
    pub bwrap: String,
    /// Registries reachable although they resolve to loopback/private/link-local addresses.
    pub allowed_registries: Vec<String>,
    /// Registries spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            default_concurrency: 10,
            queue_wait_ms: 10_000,
            idle_timeout_secs: 300,
            init_timeout_secs: 10,
            pull_timeout_secs: 600,
            unsandboxed: false,
            bwrap: "bwrap".into(),
            allowed_registries: Vec::new(),
            insecure_registries: Vec::new(),
        }
    }
}

impl RuntimeConfig {
    pub fn registry_policy(&self) -> quartz_oci::RegistryPolicy {
        quartz_oci::RegistryPolicy {
            allowed_registries: self.allowed_registries.clone(),
            insecure_registries: self.insecure_registries.clone(),
        }
    }
}
