//! One configuration model: `quartz.toml` < environment < flags. Every value is validated at
//! start, and an invalid one is reported with its key, its value and where to change it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use quartz_lambda_client::LambdaClientConfig;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {key} = {value:?} (set by {set_by}): {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        set_by: String,
        reason: String,
    },
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Configuration file [default: ./quartz.toml when it exists].
    #[arg(long, global = true, env = "QUARTZ_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where Quartz keeps its state (SQLite store, images, logs, tokens) [default: ./.quartz].
    #[arg(long, global = true, env = "QUARTZ_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// More logging: -v debug, -vv trace (RUST_LOG overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Text, env = "QUARTZ_LOG_FORMAT")]
    pub log_format: LogFormatArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for quartz_telemetry::LogFormat {
    fn from(value: LogFormatArg) -> Self {
        match value {
            LogFormatArg::Text => Self::Text,
            LogFormatArg::Json => Self::Json,
        }
    }
}

/// The file, as written: every leaf optional so that flags and env can fill or override it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub registry: RegistryFile,
    #[serde(default)]
    pub lambda: LambdaFile,
    #[serde(default)]
    pub monitor: quartz_monitor::MonitorConfig,
    #[serde(default)]
    pub runtime: quartz_runtime::RuntimeConfig,
    /// `[adapter]`: the adapter's settings; its Lambda API comes from `[lambda]`.
    #[serde(default)]
    pub adapter: quartz_adapter::AdapterConfig,
    /// Where `quartz adapter` serves gRPC and HTTP [default: 0.0.0.0:$PORT].
    pub adapter_listen: Option<String>,
    /// Where `quartz runtime` serves the Lambda API.
    pub runtime_listen: Option<String>,
    /// Where `quartz monitor` serves /metrics and /healthz (`[monitor]` holds the monitor's own
    /// settings, which the library validates).
    pub monitor_listen: Option<String>,
    /// `[factory]`: how `quartz up` deploys releases (function settings, registries, retries).
    #[serde(default)]
    pub factory: quartz_factory::FactoryConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub listen: Option<String>,
    pub token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaFile {
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

pub const DEFAULT_CONFIG_FILE: &str = "quartz.toml";
pub const DEFAULT_DATA_DIR: &str = ".quartz";

impl FileConfig {
    /// Loads `--config`, or `./quartz.toml` if present, or nothing.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => PathBuf::from(DEFAULT_CONFIG_FILE),
            None => return Ok(Self::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path,
            message: e.to_string(),
        })
    }
}

/// A configuration key and the ways to set it, for error messages.
pub struct Key {
    pub name: &'static str,
    pub flag: &'static str,
    pub env: &'static str,
}

impl Key {
    fn set_by(&self) -> String {
        let (section, leaf) = self.name.split_once('.').unwrap_or(("", self.name));
        let file = if section.is_empty() {
            leaf.to_string()
        } else {
            format!("[{section}] {leaf}")
        };
        format!("{} / {} / {file} in {DEFAULT_CONFIG_FILE}", self.flag, self.env)
    }

    pub fn invalid(&self, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: self.name,
            value: value.to_string(),
            set_by: self.set_by(),
            reason: reason.into(),
        }
    }

    /// Flag or env (clap has already applied flag > env) over the file, then parsed.
    pub fn resolve<T>(
        &self,
        cli: Option<&str>,
        file: Option<&str>,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = cli.or(file).unwrap_or(default);
        parse(value).map_err(|reason| self.invalid(value, reason))
    }
}

pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = value
        .rsplit_once(':')
        .ok_or("expected HOST:PORT, such as 127.0.0.1:0 (0 picks a free port)")?;
    port.parse::<u16>()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    (host, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|addr| SocketAddr::new(addr.ip(), port.parse().unwrap_or(0)))
        .ok_or_else(|| format!("host {host:?} does not resolve to an address"))
}

pub fn parse_endpoint(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or("expected an http:// or https:// URL")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("the URL has no host".into());
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// The data dir: flag/env over file over `./.quartz`.
pub fn data_dir(global: &GlobalArgs, file: &FileConfig) -> PathBuf {
    global
        .data_dir
        .clone()
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// `[lambda]`: where the Lambda API is (AWS by default).
pub fn lambda_config(
    endpoint: Option<&str>,
    region: Option<&str>,
    file: &LambdaFile,
) -> Result<LambdaClientConfig, ConfigError> {
    let endpoint_key = Key {
        name: "lambda.endpoint",
        flag: "--lambda-endpoint",
        env: "QUARTZ_LAMBDA_ENDPOINT",
    };
    let endpoint = endpoint
        .or(file.endpoint.as_deref())
        .map(|value| parse_endpoint(value).map_err(|reason| endpoint_key.invalid(value, reason)))
        .transpose()?;
    let region_key = Key {
        name: "lambda.region",
        flag: "--region",
        env: "AWS_REGION",
    };
    let region = region_key.resolve(region, file.region.as_deref(), "us-east-1", |value| {
        let ok = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(value.to_string())
        } else {
            Err("expected an AWS region name such as us-east-1".into())
        }
    })?;
    Ok(LambdaClientConfig { endpoint, region })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_ip_and_host_names() {
        assert_eq!(parse_listen("127.0.0.1:0").unwrap().port(), 0);
        assert!(parse_listen("localhost:8090").unwrap().ip().is_loopback());
        assert!(parse_listen("[::1]:80").is_ok());
        assert!(parse_listen("8090").is_err());
        assert!(parse_listen("127.0.0.1:99999").unwrap_err().contains("99999"));
    }

    #[test]
    fn invalid_values_name_key_value_and_where_to_set_it() {
        let key = Key {
            name: "registry.listen",
            flag: "--listen",
            env: "QUARTZ_REGISTRY_LISTEN",
        };
        let err = key
            .resolve(Some("nope"), None, "127.0.0.1:8090", parse_listen)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("registry.listen") && err.contains("\"nope\"") && err.contains("--listen"),
            "{err}"
        );
        assert!(err.contains("[registry] listen in quartz.toml"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let key = Key {
            name: "registry.listen",
            flag: "--listen",
            env: "QUARTZ_REGISTRY_LISTEN",
        };
        let addr = key
            .resolve(Some("127.0.0.1:1"), Some("127.0.0.1:2"), "127.0.0.1:3", parse_listen)
            .unwrap();
        assert_eq!(addr.port(), 1);
        let addr = key
            .resolve(None, Some("127.0.0.1:2"), "127.0.0.1:3", parse_listen)
            .unwrap();
        assert_eq!(addr.port(), 2);
    }

    #[test]
    fn unknown_file_keys_are_refused_with_their_name() {
        let err = toml::from_str::<FileConfig>("[registry]\nlisten = \"127.0.0.1:1\"\nport = 3\n").unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:9001/").unwrap(),
            "http://127.0.0.1:9001"
        );
        assert!(parse_endpoint("127.0.0.1:9001").is_err());
        assert!(parse_endpoint("http://").is_err());
    }
}
