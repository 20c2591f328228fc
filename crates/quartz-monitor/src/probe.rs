//! One-shot chain queries for operator commands (`quartz status`, `quartz doctor`): is the
//! endpoint there, which chain, where is the head, is there code at an address.

use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::transports::http::{Http, reqwest};
use alloy::transports::{RpcError, TransportError};
use serde::Serialize;

use crate::config::reqwest_url;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid RPC URL: {0}")]
    Url(String),
    #[error("cannot reach the RPC endpoint: {0}")]
    Unreachable(String),
    #[error("RPC {method} failed: {message}")]
    Rpc { method: &'static str, message: String },
}

/// The head of the chain as the endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    pub chain_id: u64,
    pub number: u64,
    /// Unix seconds.
    pub timestamp: u64,
}

pub struct Probe {
    provider: DynProvider,
}

/// A provider over HTTP with bounded timeouts, so that a dead endpoint fails fast.
pub(crate) fn http_client(url: &str, timeout: Duration) -> Result<RpcClient, String> {
    let url = reqwest_url(url)?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let http = Http::with_client(client, url);
    let local = http.guess_local();
    Ok(RpcClient::new(http, local))
}

impl Probe {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ProbeError> {
        let client = http_client(url, timeout).map_err(ProbeError::Url)?;
        Ok(Self {
            provider: ProviderBuilder::new()
                .disable_recommended_fillers()
                .connect_client(client)
                .erased(),
        })
    }

    pub async fn head(&self) -> Result<Head, ProbeError> {
        let chain_id = self.provider.get_chain_id().await.map_err(|e| fail("eth_chainId", e))?;
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| fail("eth_getBlockByNumber", e))?
            .ok_or_else(|| ProbeError::Rpc {
                method: "eth_getBlockByNumber",
                message: "the endpoint has no latest block".into(),
            })?;
        Ok(Head {
            chain_id,
            number: block.header.number,
            timestamp: block.header.timestamp,
        })
    }

    pub async fn has_code(&self, address: Address) -> Result<bool, ProbeError> {
        let code = self
            .provider
            .get_code_at(address)
            .await
            .map_err(|e| fail("eth_getCode", e))?;
        Ok(!code.is_empty())
    }
}

fn fail(method: &'static str, e: TransportError) -> ProbeError {
    match e {
        RpcError::Transport(_) => ProbeError::Unreachable(e.to_string()),
        other => ProbeError::Rpc {
            method,
            message: other.to_string(),
        },
    }
}
