//! The `[monitor]` section of quartz.toml.

use std::time::Duration;

use alloy::primitives::Address;
use quartz_core::{AvsAddress, OperatorSet};
use serde::{Deserialize, Serialize};

use crate::MonitorError;

/// Settings of the release monitor. Every field has a default; [`MonitorConfig::validate`] checks
/// them at start and names the offending key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// JSON-RPC endpoints, tried in order; the next one takes over when one fails.
    pub rpc_urls: Vec<String>,
    /// The chain the endpoints must serve; checked against `eth_chainId` at start when set.
    pub chain_id: Option<u64>,
    /// The ReleaseManager to watch. Defaults to the production address of chain 1 or 11155111.
    pub release_manager: Option<Address>,
    /// First block to scan on a fresh store. Default: `start_window` blocks below the safe head.
    pub start_block: Option<u64>,
    /// How far below the safe head a fresh store starts when `start_block` is not set.
    pub start_window: u64,
    /// How many blocks a log must be buried under, or `"finalized"` to follow the finalized tag.
    pub confirmations: Confirmations,
    /// `watched`: only the operator sets in `watch` and in the registry. `all`: every release
    /// on the contract, resolving unknown operator sets from the transaction or its call trace.
    pub discover: Discover,
    /// Operator sets to watch, beside those already in the registry.
    pub watch: Vec<WatchedSet>,
    pub poll_interval_ms: u64,
    /// How often every known operator set is compared with `getLatestRelease`.
    pub reconcile_interval_secs: u64,
    /// First `eth_getLogs` range; it halves on range errors and grows back on success.
    pub initial_chunk_blocks: u64,
    pub max_chunk_blocks: u64,
    /// How many recent checkpoint block hashes to keep for reorg detection.
    pub reorg_history: u32,
    pub rpc_timeout_ms: u64,
    /// Ceiling of the retry backoff after errors and rate limits.
    pub max_backoff_ms: u64,
    /// Show a progress bar for long backfills when stderr is a terminal.
    pub progress_bar: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            rpc_urls: vec!["http://127.0.0.1:8545".into()],
            chain_id: None,
            release_manager: None,
            start_block: None,
            start_window: 50_000,
            confirmations: Confirmations::Blocks(12),
            discover: Discover::Watched,
            watch: Vec::new(),
            poll_interval_ms: 12_000,
            reconcile_interval_secs: 300,
            initial_chunk_blocks: 2_000,
            max_chunk_blocks: 10_000,
            reorg_history: 256,
            rpc_timeout_ms: 30_000,
            max_backoff_ms: 60_000,
            progress_bar: true,
        }
    }
}

/// How final a block must be before it is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmations {
    /// This many blocks below the head (0 scans the head itself).
    Blocks(u64),
    /// The block the node reports as `finalized`.
    Finalized,
}

impl Serialize for Confirmations {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Blocks(n) => serializer.serialize_u64(*n),
            Self::Finalized => serializer.serialize_str("finalized"),
        }
    }
}

impl<'de> Deserialize<'de> for Confirmations {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Blocks(u64),
            Tag(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Blocks(n) => Ok(Self::Blocks(n)),
            Raw::Tag(tag) if tag == "finalized" => Ok(Self::Finalized),
            Raw::Tag(other) => Err(serde::de::Error::custom(format!(
                "expected a number of blocks or \"finalized\", got {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Discover {
    #[default]
    Watched,
    All,
}

/// One operator set to watch: `{ avs = "0x…", operator_set_id = 0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchedSet {
    pub avs: AvsAddress,
    pub operator_set_id: u32,
}

impl From<WatchedSet> for OperatorSet {
    fn from(w: WatchedSet) -> Self {
        OperatorSet::new(w.avs, w.operator_set_id)
    }
}

impl MonitorConfig {
    pub fn validate(&self) -> Result<(), MonitorError> {
        let bad = |key, reason: &str| {
            Err(MonitorError::Config {
                key,
                reason: reason.to_string(),
            })
        };
        if self.rpc_urls.is_empty() {
            return bad("rpc_urls", "list at least one JSON-RPC URL");
        }
        for url in &self.rpc_urls {
            match reqwest_url(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(u) => {
                    return bad(
                        "rpc_urls",
                        &format!("{url}: scheme {} is not http or https", u.scheme()),
                    );
                }
                Err(e) => return bad("rpc_urls", &format!("{url}: {e}")),
            }
        }
        if self.start_block == Some(0) {
            return bad(
                "start_block",
                "must be at least 1; scanning from genesis is never needed",
            );
        }
        if self.start_window == 0 {
            return bad("start_window", "must be at least 1 block");
        }
        if self.initial_chunk_blocks == 0 || self.max_chunk_blocks == 0 {
            let key = if self.initial_chunk_blocks == 0 {
                "initial_chunk_blocks"
            } else {
                "max_chunk_blocks"
            };
            return bad(key, "must be at least 1 block");
        }
        if self.initial_chunk_blocks > self.max_chunk_blocks {
            return bad("initial_chunk_blocks", "must not exceed max_chunk_blocks");
        }
        if self.reorg_history < 2 {
            return bad("reorg_history", "must keep at least 2 block hashes");
        }
        if self.poll_interval_ms == 0 {
            return bad("poll_interval_ms", "must be at least 1");
        }
        if self.rpc_timeout_ms == 0 {
            return bad("rpc_timeout_ms", "must be at least 1");
        }
        if self.max_backoff_ms == 0 {
            return bad("max_backoff_ms", "must be at least 1");
        }
        if self.reconcile_interval_secs == 0 {
            return bad("reconcile_interval_secs", "must be at least 1");
        }
        Ok(())
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_secs(self.reconcile_interval_secs)
    }

    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.rpc_timeout_ms)
    }

    pub fn max_backoff(&self) -> Duration {
        Duration::from_millis(self.max_backoff_ms)
    }

    pub fn watched_sets(&self) -> impl Iterator<Item = OperatorSet> + '_ {
        self.watch.iter().map(|w| OperatorSet::from(*w))
    }
}

pub(crate) fn reqwest_url(url: &str) -> Result<alloy::transports::http::reqwest::Url, String> {
    url.parse::<alloy::transports::http::reqwest::Url>()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_never_scan_from_genesis() {
        let config = MonitorConfig::default();
        config.validate().unwrap();
        assert!(config.start_block.is_none() && config.start_window > 0);
    }

    #[test]
    fn parses_a_toml_section() {
        let config: MonitorConfig = toml::from_str(
            r#"
            rpc_urls = ["https://a.example", "http://127.0.0.1:8545"]
            confirmations = "finalized"
            discover = "all"
            watch = [{ avs = "0x8e14dB002737F89745bc98F987caeB18D0d47635", operator_set_id = 1 }]
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.confirmations, Confirmations::Finalized);
        assert_eq!(config.discover, Discover::All);
        assert_eq!(config.watched_sets().next().unwrap().id, 1);
        let numeric: MonitorConfig = toml::from_str("confirmations = 3").unwrap();
        assert_eq!(numeric.confirmations, Confirmations::Blocks(3));
    }

    #[test]
    fn errors_name_the_key() {
        let err = toml::from_str::<MonitorConfig>("confirmations = \"safe\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("finalized"), "{err}");
        let err = toml::from_str::<MonitorConfig>("rpc_url = []").unwrap_err().to_string();
        assert!(err.contains("rpc_url"), "{err}");
        for (config, key) in [
            (
                MonitorConfig {
                    rpc_urls: vec![],
                    ..Default::default()
                },
                "monitor.rpc_urls",
            ),
            (
                MonitorConfig {
                    rpc_urls: vec!["ftp://x".into()],
                    ..Default::default()
                },
                "monitor.rpc_urls",
            ),
            (
                MonitorConfig {
                    start_block: Some(0),
                    ..Default::default()
                },
                "monitor.start_block",
            ),
            (
                MonitorConfig {
                    initial_chunk_blocks: 20_000,
                    ..Default::default()
                },
                "monitor.initial_chunk_blocks",
            ),
        ] {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err} should name {key}");
        }
    }
}
