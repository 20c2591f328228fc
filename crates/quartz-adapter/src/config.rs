//! `AdapterConfig`: what `quartz adapter` and `quartz up` give the adapter, validated once at
//! start into [`Settings`] with errors that name the key.

use std::time::Duration;

use quartz_core::{FunctionName, OperatorSet, parse_operator_set_id};
use quartz_lambda_client::LambdaClientConfig;
use serde::{Deserialize, Serialize};

use crate::AdapterError;

/// The alias the adapter invokes; the factory moves it, the adapter never picks another.
pub const LIVE_ALIAS: &str = "live";
/// Lambda's maximum function timeout.
pub const MAX_FUNCTION_TIMEOUT_SECS: u64 = 900;
/// How much longer than the function's timeout the client waits for an answer.
pub const READ_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);

/// The adapter's configuration. With `avs_address` and `operator_set_id` it serves that one
/// operator set (the seed's `AVS_ADDRESS` / `OPERATOR_SET_ID`); with neither it routes every
/// request through the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdapterConfig {
    /// `AVS_ADDRESS`: the AVS served in single-performer mode.
    pub avs_address: Option<String>,
    /// `OPERATOR_SET_ID`: the operator set served in single-performer mode.
    pub operator_set_id: Option<String>,
    /// The Lambda API: the local runtime, or AWS (default credential chain, `AWS_REGION`).
    pub lambda: LambdaClientConfig,
    /// `LAMBDA_API_ENDPOINT`: invoke through API Gateway, `POST {base}/task`, instead of the
    /// Lambda API. Single-performer mode only: the gateway, not the adapter, picks the function.
    pub lambda_api_endpoint: Option<String>,
    /// Quartz's own local runtime: its Lambda Invoke API over plain HTTP, without the SDK's
    /// SigV4 signing and middleware, which the local runtime does not need and which cost more
    /// than the rest of the hop. What `quartz up` uses; `lambda` is then not read.
    pub local_runtime: Option<String>,
    /// The longest the functions may run (their configured timeout, at most 900). Invocations
    /// wait this long plus a margin for an answer.
    pub function_timeout_secs: u64,
    /// How long a registry snapshot is used before it is reloaded (multi-AVS mode); a request
    /// for an unknown performer reloads it sooner.
    pub registry_refresh_ms: u64,
    /// How long a reachability probe answers HealthCheck before it is repeated.
    pub health_cache_ms: u64,
    /// After shutdown begins, how long in-flight tasks may still run.
    pub shutdown_grace_secs: u64,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        Self {
            avs_address: None,
            operator_set_id: None,
            lambda: LambdaClientConfig::default(),
            lambda_api_endpoint: None,
            local_runtime: None,
            function_timeout_secs: MAX_FUNCTION_TIMEOUT_SECS,
            registry_refresh_ms: 5_000,
            health_cache_ms: 2_000,
            shutdown_grace_secs: 30,
        }
    }
}

/// Which function a request may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// One configured operator set and its function.
    Single { set: OperatorSet, function: FunctionName },
    /// Any active performer in the registry.
    Registry,
}

/// How tasks are invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Lambda(LambdaClientConfig),
    Gateway {
        task_url: String,
    },
    /// Quartz's local runtime, at this base URL.
    LocalRuntime {
        endpoint: String,
    },
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    pub backend: Backend,
    pub function_timeout: Duration,
    pub registry_refresh: Duration,
    pub health_cache: Duration,
    pub shutdown_grace: Duration,
}

impl Settings {
    /// The client's read timeout and the longest a task may take: above the function timeout.
    pub fn read_timeout(&self) -> Duration {
        self.function_timeout + READ_TIMEOUT_MARGIN
    }
}

fn invalid(key: &'static str, value: impl ToString, reason: impl Into<String>) -> AdapterError {
    AdapterError::Config {
        key,
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn http_url(key: &'static str, value: &str) -> Result<String, AdapterError> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(|| invalid(key, value, "expected an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid(key, value, "the URL has no host"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

impl AdapterConfig {
    pub fn validate(&self) -> Result<Settings, AdapterError> {
        let mode = match (&self.avs_address, &self.operator_set_id) {
            (Some(avs), Some(id)) => {
                let avs = avs.parse().map_err(|e: quartz_core::DomainError| {
                    invalid("adapter.avs_address (AVS_ADDRESS)", avs, e.to_string())
                })?;
                let id = parse_operator_set_id(id).map_err(|_| {
                    invalid(
                        "adapter.operator_set_id (OPERATOR_SET_ID)",
                        id,
                        "expected an integer from 0 to 4294967295",
                    )
                })?;
                let set = OperatorSet::new(avs, id);
                Mode::Single {
                    set,
                    function: FunctionName::for_operator_set(&set),
                }
            }
            (Some(_), None) => {
                return Err(AdapterError::MissingVariable {
                    present: "AVS_ADDRESS",
                    missing: "OPERATOR_SET_ID",
                });
            }
            (None, Some(_)) => {
                return Err(AdapterError::MissingVariable {
                    present: "OPERATOR_SET_ID",
                    missing: "AVS_ADDRESS",
                });
            }
            (None, None) => Mode::Registry,
        };
        let backend = match (&self.lambda_api_endpoint, &self.local_runtime) {
            (Some(_), Some(_)) => {
                return Err(AdapterError::Unsupported(
                    "adapter.local_runtime and adapter.lambda_api_endpoint (LAMBDA_API_ENDPOINT) both set: \
                     tasks go either to the local runtime or through API Gateway"
                        .into(),
                ));
            }
            (None, Some(endpoint)) => Backend::LocalRuntime {
                endpoint: http_url("adapter.local_runtime", endpoint)?,
            },
            (Some(base), None) => {
                let base = http_url("adapter.lambda_api_endpoint (LAMBDA_API_ENDPOINT)", base)?;
                if mode == Mode::Registry {
                    return Err(AdapterError::Unsupported(
                        "LAMBDA_API_ENDPOINT (adapter.lambda_api_endpoint) needs single-performer mode: \
                         set AVS_ADDRESS and OPERATOR_SET_ID, or unset it to route through the registry"
                            .into(),
                    ));
                }
                Backend::Gateway {
                    task_url: format!("{base}/task"),
                }
            }
            (None, None) => {
                let mut lambda = self.lambda.clone();
                if let Some(endpoint) = &lambda.endpoint {
                    lambda.endpoint = Some(http_url("lambda.endpoint", endpoint)?);
                }
                let region_ok = !lambda.region.is_empty()
                    && lambda
                        .region
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !region_ok {
                    return Err(invalid(
                        "lambda.region (AWS_REGION)",
                        &lambda.region,
                        "expected an AWS region name such as us-east-1",
                    ));
                }
                Backend::Lambda(lambda)
            }
        };
        if !(1..=MAX_FUNCTION_TIMEOUT_SECS).contains(&self.function_timeout_secs) {
            return Err(invalid(
                "adapter.function_timeout_secs",
                self.function_timeout_secs,
                "expected 1 to 900 seconds (Lambda's limit)",
            ));
        }
        if self.registry_refresh_ms < 100 {
            return Err(invalid(
                "adapter.registry_refresh_ms",
                self.registry_refresh_ms,
                "expected at least 100 ms",
            ));
        }
        if self.shutdown_grace_secs > 3600 {
            return Err(invalid(
                "adapter.shutdown_grace_secs",
                self.shutdown_grace_secs,
                "expected at most 3600 seconds",
            ));
        }
        Ok(Settings {
            mode,
            backend,
            function_timeout: Duration::from_secs(self.function_timeout_secs),
            registry_refresh: Duration::from_millis(self.registry_refresh_ms),
            health_cache: Duration::from_millis(self.health_cache_ms),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const AVS: &str = "0x8e14db002737f89745bc98f987caeb18d0d47635";

    fn single(avs: &str, id: &str) -> AdapterConfig {
        AdapterConfig {
            avs_address: Some(avs.into()),
            operator_set_id: Some(id.into()),
            ..AdapterConfig::default()
        }
    }

    #[test]
    fn single_mode_derives_the_function_name() {
        let settings = single(AVS, "3").validate().unwrap();
        let Mode::Single { ref function, .. } = settings.mode else {
            panic!("not single")
        };
        assert_eq!(function.as_str(), format!("avs-{AVS}-opset-3-performer"));
        assert!(settings.read_timeout() > settings.function_timeout);
    }

    #[test]
    fn a_missing_variable_is_named() {
        let mut config = single(AVS, "1");
        config.operator_set_id = None;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("OPERATOR_SET_ID is not"), "{err}");
        let mut config = single(AVS, "1");
        config.avs_address = None;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("AVS_ADDRESS is not"), "{err}");
        assert_eq!(AdapterConfig::default().validate().unwrap().mode, Mode::Registry);
    }

    #[test]
    fn invalid_values_name_their_key() {
        let err = single("0x12", "1").validate().unwrap_err().to_string();
        assert!(err.contains("AVS_ADDRESS") && err.contains("0x12"), "{err}");
        let err = single(AVS, "-1").validate().unwrap_err().to_string();
        assert!(err.contains("OPERATOR_SET_ID"), "{err}");
        let mut config = single(AVS, "1");
        config.lambda_api_endpoint = Some("ftp://x".into());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("LAMBDA_API_ENDPOINT"), "{err}");
        let config = AdapterConfig {
            function_timeout_secs: 901,
            ..AdapterConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("function_timeout_secs")
        );
        let config = AdapterConfig {
            lambda_api_endpoint: Some("https://api.example".into()),
            ..AdapterConfig::default()
        };
        assert!(config.validate().unwrap_err().to_string().contains("single-performer"));
    }

    #[test]
    fn local_runtime_is_a_url_and_excludes_the_gateway() {
        let mut config = single(AVS, "1");
        config.local_runtime = Some("http://127.0.0.1:9001/".into());
        assert_eq!(
            config.validate().unwrap().backend,
            Backend::LocalRuntime {
                endpoint: "http://127.0.0.1:9001".into()
            }
        );
        config.local_runtime = Some("127.0.0.1:9001".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("adapter.local_runtime")
        );
        config.local_runtime = Some("http://127.0.0.1:9001".into());
        config.lambda_api_endpoint = Some("https://api.example".into());
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("local_runtime") && err.contains("lambda_api_endpoint"),
            "{err}"
        );
    }

    #[test]
    fn gateway_posts_to_task() {
        let mut config = single(AVS, "1");
        config.lambda_api_endpoint = Some("https://api.example/prod/".into());
        assert_eq!(
            config.validate().unwrap().backend,
            Backend::Gateway {
                task_url: "https://api.example/prod/task".into()
            }
        );
    }
}
