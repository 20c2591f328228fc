//! The functions' settings, from the environment the CloudFormation template gives them
//! (`quartz synth`): `QUARTZ_HANDLER` says which handler the one binary is, the rest where the
//! tables, the role, the repository, the chain and the state machine are. Read through a lookup
//! function so that tests pass a map and never change the process environment.

use std::time::Duration;

use alloy_primitives::Address;
use quartz_aws::{AwsConfig, CHECKPOINT_PARAMETER, HISTORY_TABLE, MONITOR_TABLE, REGISTRY_TABLE, RegistryTables};
use quartz_monitor::{Confirmations, Discover};
use quartz_oci::RegistryPolicy;

use crate::HandlerError;

/// Which handler the binary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Monitor,
    FactoryStep,
    RegistryApi,
}

impl Handler {
    pub fn parse(value: &str) -> Result<Self, HandlerError> {
        match value {
            "monitor" => Ok(Self::Monitor),
            "factory-step" => Ok(Self::FactoryStep),
            "registry-api" => Ok(Self::RegistryApi),
            other => Err(HandlerError::UnknownHandler(other.to_string())),
        }
    }
}

/// Settings every handler shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub handler: Handler,
    /// `AWS_REGION` (set by Lambda), and `AWS_ENDPOINT_URL` (optional): one endpoint for every
    /// AWS API (moto, LocalStack), with local credentials when the environment has none, since
    /// Lambda (and Quartz's runtime) reserve the credential variables.
    pub aws: AwsConfig,
    /// `REGISTRY_TABLE`, `HISTORY_TABLE`.
    pub tables: RegistryTables,
}

/// The factory-step function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactoryStepSettings {
    /// `PERFORMER_ROLE_ARN`: the one execution role every performer function gets.
    pub performer_role_arn: String,
    /// The repository name from `ECR_REPOSITORY_URI` (`{registry}/{name}`).
    pub ecr_repository: String,
    /// `ALLOWED_REGISTRIES` / `INSECURE_REGISTRIES` (comma-separated, optional): private or
    /// plain-HTTP source registries resolve may fetch from. Public registries need neither.
    pub registries: RegistryPolicy,
}

/// The monitor function's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSettings {
    /// `RPC_ENDPOINT`: one URL, or several separated by commas (tried in order, failing over).
    pub rpc_urls: Vec<String>,
    /// `RELEASE_MANAGER_ADDRESS`.
    pub release_manager: Address,
    /// `STATE_MACHINE_ARN`.
    pub state_machine_arn: String,
    /// `MONITOR_TABLE` and `CHECKPOINT_PARAMETER` (default `/quartz/last-processed-block`).
    pub monitor_table: String,
    pub checkpoint_parameter: String,
    /// `CONFIRMATIONS`: blocks below the head, or `finalized` (default 12).
    pub confirmations: Confirmations,
    /// `START_BLOCK`: where a fresh checkpoint starts (default `START_WINDOW` below the safe head).
    pub start_block: Option<u64>,
    pub start_window: u64,
    /// `DISCOVER`: `all` (default: every release on the contract, as the seed) or `watched`
    /// (the registry's sets and `WATCH`, a comma-separated list of `avs:id`).
    pub discover: Discover,
    pub watch: Vec<quartz_core::OperatorSet>,
    /// `MAX_BLOCKS_PER_RUN` (default 100,000) and `CHUNK_BLOCKS` (the first `eth_getLogs` range,
    /// default 2,000, halved when a provider refuses it).
    pub max_blocks_per_run: u64,
    pub chunk_blocks: u64,
    /// `RPC_TIMEOUT_MS` (default 20,000).
    pub rpc_timeout: Duration,
}

fn required(get: &dyn Fn(&str) -> Option<String>, name: &'static str) -> Result<String, HandlerError> {
    get(name).filter(|v| !v.trim().is_empty()).ok_or(HandlerError::Env {
        name,
        reason: "not set".into(),
    })
}

fn parsed<T: std::str::FromStr>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, HandlerError>
where
    T::Err: std::fmt::Display,
{
    match get(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|e: T::Err| HandlerError::Env {
            name,
            reason: format!("{value:?}: {e}"),
        }),
    }
}

fn list(get: &dyn Fn(&str) -> Option<String>, name: &str) -> Vec<String> {
    get(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Common {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, HandlerError> {
        let handler = Handler::parse(&required(get, "QUARTZ_HANDLER")?)?;
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        Ok(Self {
            handler,
            aws: AwsConfig {
                endpoint: get("AWS_ENDPOINT_URL").filter(|v| !v.trim().is_empty()),
                region,
            },
            tables: RegistryTables {
                performers: get("REGISTRY_TABLE").unwrap_or_else(|| REGISTRY_TABLE.into()),
                history: get("HISTORY_TABLE").unwrap_or_else(|| HISTORY_TABLE.into()),
            },
        })
    }
}

impl FactoryStepSettings {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, HandlerError> {
        let performer_role_arn = required(get, "PERFORMER_ROLE_ARN")?;
        let uri = required(get, "ECR_REPOSITORY_URI")?;
        let ecr_repository = uri
            .split_once('/')
            .map(|(_, name)| name.to_string())
            .filter(|name| !name.is_empty())
            .ok_or(HandlerError::Env {
                name: "ECR_REPOSITORY_URI",
                reason: format!("{uri:?} is not {{registry}}/{{repository}}"),
            })?;
        Ok(Self {
            performer_role_arn,
            ecr_repository,
            registries: RegistryPolicy {
                allowed_registries: list(get, "ALLOWED_REGISTRIES"),
                insecure_registries: list(get, "INSECURE_REGISTRIES"),
            },
        })
    }
}

impl MonitorSettings {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, HandlerError> {
        let rpc_urls = list(get, "RPC_ENDPOINT");
        if rpc_urls.is_empty() {
            return Err(HandlerError::Env {
                name: "RPC_ENDPOINT",
                reason: "not set".into(),
            });
        }
        let confirmations = match get("CONFIRMATIONS").as_deref().map(str::trim) {
            None | Some("") => Confirmations::Blocks(12),
            Some("finalized") => Confirmations::Finalized,
            Some(n) => Confirmations::Blocks(n.parse().map_err(|e| HandlerError::Env {
                name: "CONFIRMATIONS",
                reason: format!("{n:?}: {e} (a number of blocks, or finalized)"),
            })?),
        };
        let discover = match get("DISCOVER").as_deref().map(str::trim) {
            None | Some("") | Some("all") => Discover::All,
            Some("watched") => Discover::Watched,
            Some(other) => {
                return Err(HandlerError::Env {
                    name: "DISCOVER",
                    reason: format!("{other:?}: expected all or watched"),
                });
            }
        };
        let watch = list(get, "WATCH")
            .iter()
            .map(|entry| parse_set(entry))
            .collect::<Result<Vec<_>, _>>()?;
        let max_blocks_per_run = parsed(get, "MAX_BLOCKS_PER_RUN", 100_000u64)?;
        let chunk_blocks = parsed(get, "CHUNK_BLOCKS", 2_000u64)?;
        if max_blocks_per_run == 0 || chunk_blocks == 0 {
            return Err(HandlerError::Env {
                name: "MAX_BLOCKS_PER_RUN",
                reason: "MAX_BLOCKS_PER_RUN and CHUNK_BLOCKS must be at least 1".into(),
            });
        }
        Ok(Self {
            rpc_urls,
            release_manager: parsed(get, "RELEASE_MANAGER_ADDRESS", Address::ZERO).and_then(|a| {
                if a == Address::ZERO {
                    Err(HandlerError::Env {
                        name: "RELEASE_MANAGER_ADDRESS",
                        reason: "not set".into(),
                    })
                } else {
                    Ok(a)
                }
            })?,
            state_machine_arn: required(get, "STATE_MACHINE_ARN")?,
            monitor_table: get("MONITOR_TABLE").unwrap_or_else(|| MONITOR_TABLE.into()),
            checkpoint_parameter: get("CHECKPOINT_PARAMETER").unwrap_or_else(|| CHECKPOINT_PARAMETER.into()),
            confirmations,
            start_block: parsed(get, "START_BLOCK", 0u64).map(|b| (b > 0).then_some(b))?,
            start_window: parsed(get, "START_WINDOW", 50_000u64)?,
            discover,
            watch,
            max_blocks_per_run,
            chunk_blocks,
            rpc_timeout: Duration::from_millis(parsed(get, "RPC_TIMEOUT_MS", 20_000u64)?),
        })
    }
}

fn parse_set(entry: &str) -> Result<quartz_core::OperatorSet, HandlerError> {
    let bad = |reason: String| HandlerError::Env { name: "WATCH", reason };
    let (avs, id) = entry
        .split_once(':')
        .ok_or_else(|| bad(format!("{entry:?} is not avs:operatorSetId")))?;
    let avs = avs.parse().map_err(|e| bad(format!("{avs:?}: {e}")))?;
    let id = id.parse().map_err(|e| bad(format!("{id:?}: {e}")))?;
    Ok(quartz_core::OperatorSet::new(avs, id))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_templates_variables_are_read_and_errors_name_them() {
        let get = lookup(&[
            ("QUARTZ_HANDLER", "factory-step"),
            ("PERFORMER_ROLE_ARN", "arn:aws:iam::1:role/p"),
            (
                "ECR_REPOSITORY_URI",
                "1.dkr.ecr.us-east-1.amazonaws.com/quartz-performer",
            ),
        ]);
        assert_eq!(Common::from_lookup(&get).unwrap().handler, Handler::FactoryStep);
        assert_eq!(
            FactoryStepSettings::from_lookup(&get).unwrap().ecr_repository,
            "quartz-performer"
        );
        let error = MonitorSettings::from_lookup(&get).unwrap_err().to_string();
        assert!(error.contains("RPC_ENDPOINT"), "{error}");
        let error = Common::from_lookup(&lookup(&[("QUARTZ_HANDLER", "nope")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("nope"), "{error}");
        let get = lookup(&[
            ("RPC_ENDPOINT", "http://a, http://b"),
            ("RELEASE_MANAGER_ADDRESS", "0x59c8D715DCa616e032B744a753C017c9f3E16bf4"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:1:stateMachine:quartz-factory",
            ),
            ("CONFIRMATIONS", "x"),
        ]);
        let error = MonitorSettings::from_lookup(&get).unwrap_err().to_string();
        assert!(error.contains("CONFIRMATIONS"), "{error}");
    }
}
