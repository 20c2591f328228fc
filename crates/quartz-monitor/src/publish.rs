//! Publishing on the ReleaseManager, for AVS developers (`quartz release publish`) and for the
//! quickstart: the metadata URI when needed, then the release, each simulated first so that a
//! revert is reported with its reason and what to do instead of a bare "execution reverted".

use std::time::Duration;

use alloy::network::{Ethereum, EthereumWallet, Network, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::json_rpc::ErrorPayload;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolInterface};
use alloy::transports::{RpcError, TransportError};
use quartz_core::{OperatorSet, PinnedImage};
use serde::Serialize;

use crate::contract::{
    IReleaseManager, IReleaseManagerErrors, ReleasePublished, default_release_manager, getMetadataURICall,
    publishMetadataURICall, publishReleaseCall, release_id_u64, to_abi,
};

type TxRequest = <Ethereum as Network>::TransactionRequest;
type Receipt = <Ethereum as Network>::ReceiptResponse;

/// Who signs the transactions.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A private key held by this process.
    Key(PrivateKeySigner),
    /// The node signs as the AVS itself (anvil's `anvil_impersonateAccount`); dev chains only.
    Impersonate,
}

/// A release to publish. Each image becomes one artifact: its digest as the bytes32, its
/// repository (`registry/path`) as the `registryUrl`.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub set: OperatorSet,
    pub images: Vec<PinnedImage>,
    /// Unix seconds; 0 means no deadline.
    pub upgrade_by_time: u32,
    /// Published first unless the operator set already has exactly this URI.
    pub metadata_uri: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentTx {
    pub tx_hash: B256,
    pub block_number: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub chain_id: u64,
    pub release_manager: Address,
    pub avs: String,
    pub operator_set_id: u32,
    pub from: Address,
    /// The `publishMetadataURI` transaction, when one was needed.
    pub metadata: Option<SentTx>,
    pub tx_hash: B256,
    pub block_number: u64,
    /// From the `ReleasePublished` log of the transaction.
    pub release_id: u64,
    pub artifacts: Vec<String>,
    pub upgrade_by_time: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("invalid RPC URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot reach the RPC endpoint ({method}): {message}; check --rpc-url and that the node is running")]
    Unreachable { method: &'static str, message: String },
    #[error("RPC {method} failed: {message}")]
    Rpc { method: &'static str, message: String },
    #[error("no ReleaseManager address is known for chain id {chain_id}; pass --release-manager")]
    NoReleaseManager { chain_id: u64 },
    #[error(
        "there is no contract at {address} on chain {chain_id}; pass the ReleaseManager's address with --release-manager"
    )]
    NoContract { address: Address, chain_id: u64 },
    #[error(
        "cannot impersonate {avs}: {message}; --impersonate works on dev chains (anvil) only, sign with --private-key-file or QUARTZ_PRIVATE_KEY elsewhere"
    )]
    Impersonation { avs: Address, message: String },
    #[error(
        "operator set {set} has no metadata URI yet and the ReleaseManager refuses a release without one: pass --metadata-uri URI"
    )]
    NoMetadata { set: OperatorSet },
    #[error("{action} would revert: {reason}")]
    Reverted { action: &'static str, reason: String },
    #[error("{action} transaction {tx_hash} failed: {message}")]
    Failed {
        action: &'static str,
        tx_hash: String,
        message: String,
    },
}

/// How long a sent transaction may take to be mined.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(180);
/// anvil_setBalance tops an impersonated account up to this (100 ETH) when it has less than 1 ETH.
const DEV_BALANCE: u128 = 100_000_000_000_000_000_000;

pub struct Publisher {
    provider: DynProvider,
    signer: Signer,
    chain_id: u64,
    release_manager: Address,
}

impl Publisher {
    /// Connects, finds the ReleaseManager (the chain's production one unless given) and checks
    /// that it has code.
    pub async fn connect(
        rpc_url: &str,
        release_manager: Option<Address>,
        signer: Signer,
    ) -> Result<Self, PublishError> {
        let client =
            crate::probe::http_client(rpc_url, Duration::from_secs(30)).map_err(|reason| PublishError::Url {
                url: rpc_url.to_string(),
                reason,
            })?;
        let provider = match &signer {
            Signer::Key(key) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(key.clone()))
                .connect_client(client)
                .erased(),
            // The node fills and signs; Quartz only names the sender.
            Signer::Impersonate => ProviderBuilder::new().connect_client(client).erased(),
        };
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| unreachable_or_rpc("eth_chainId", e))?;
        let release_manager = release_manager
            .or_else(|| default_release_manager(chain_id))
            .ok_or(PublishError::NoReleaseManager { chain_id })?;
        let code = provider
            .get_code_at(release_manager)
            .await
            .map_err(|e| rpc("eth_getCode", e))?;
        if code.is_empty() {
            return Err(PublishError::NoContract {
                address: release_manager,
                chain_id,
            });
        }
        Ok(Self {
            provider,
            signer,
            chain_id,
            release_manager,
        })
    }

    pub fn release_manager(&self) -> Address {
        self.release_manager
    }

    /// The operator set's metadata URI, empty when it has none.
    pub async fn metadata_uri(&self, set: &OperatorSet) -> Result<String, PublishError> {
        let call = getMetadataURICall {
            operatorSet: to_abi(set),
        };
        let tx = TxRequest::default()
            .with_to(self.release_manager)
            .with_input(call.abi_encode());
        let out = self.provider.call(tx).await.map_err(|e| rpc("eth_call", e))?;
        getMetadataURICall::abi_decode_returns(&out).map_err(|e| PublishError::Rpc {
            method: "eth_call",
            message: format!("getMetadataURI returned undecodable data: {e}"),
        })
    }

    pub async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError> {
        let set = request.set;
        let from = match &self.signer {
            Signer::Key(key) => key.address(),
            Signer::Impersonate => {
                self.impersonate(set.avs.as_address()).await?;
                set.avs.as_address()
            }
        };
        let current = self.metadata_uri(&set).await?;
        let metadata = match &request.metadata_uri {
            Some(uri) if *uri != current => {
                let call = publishMetadataURICall {
                    operatorSet: to_abi(&set),
                    metadataURI: uri.clone(),
                };
                let (sent, _) = self.send("publishMetadataURI", from, call.abi_encode()).await?;
                Some(sent)
            }
            Some(_) => None,
            None if current.is_empty() => return Err(PublishError::NoMetadata { set }),
            None => None,
        };
        let call = publishReleaseCall {
            operatorSet: to_abi(&set),
            release: IReleaseManager::Release {
                artifacts: request
                    .images
                    .iter()
                    .map(|image| IReleaseManager::Artifact {
                        digest: B256::from(*image.digest.as_bytes()),
                        registryUrl: image.repository.to_string(),
                    })
                    .collect(),
                upgradeByTime: request.upgrade_by_time,
            },
        };
        let (sent, receipt) = self.send("publishRelease", from, call.abi_encode()).await?;
        let release_id = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == self.release_manager)
            .find_map(|log| log.log_decode::<ReleasePublished>().ok())
            .map(|log| release_id_u64(log.inner.data.releaseId))
            .ok_or_else(|| PublishError::Failed {
                action: "publishRelease",
                tx_hash: sent.tx_hash.to_string(),
                message: "the receipt has no ReleasePublished log".into(),
            })?
            .map_err(|e| PublishError::Failed {
                action: "publishRelease",
                tx_hash: sent.tx_hash.to_string(),
                message: e.0,
            })?;
        Ok(Published {
            chain_id: self.chain_id,
            release_manager: self.release_manager,
            avs: set.avs.to_string(),
            operator_set_id: set.id,
            from,
            metadata,
            tx_hash: sent.tx_hash,
            block_number: sent.block_number,
            release_id,
            artifacts: request.images.iter().map(ToString::to_string).collect(),
            upgrade_by_time: request.upgrade_by_time,
        })
    }

    async fn impersonate(&self, avs: Address) -> Result<(), PublishError> {
        let fail = |e: TransportError| PublishError::Impersonation {
            avs,
            message: e.to_string(),
        };
        self.provider
            .raw_request::<_, serde_json::Value>("anvil_impersonateAccount".into(), (avs,))
            .await
            .map_err(fail)?;
        let balance = self
            .provider
            .get_balance(avs)
            .await
            .map_err(|e| rpc("eth_getBalance", e))?;
        if balance < U256::from(DEV_BALANCE / 100) {
            self.provider
                .raw_request::<_, serde_json::Value>("anvil_setBalance".into(), (avs, U256::from(DEV_BALANCE)))
                .await
                .map_err(fail)?;
        }
        Ok(())
    }

    /// Simulates the call from `from` (to report a revert with its reason), then sends it and
    /// waits for its receipt.
    async fn send(
        &self,
        action: &'static str,
        from: Address,
        input: Vec<u8>,
    ) -> Result<(SentTx, Receipt), PublishError> {
        let tx = TxRequest::default()
            .with_from(from)
            .with_to(self.release_manager)
            .with_input(Bytes::from(input));
        if let Err(e) = self.provider.call(tx.clone()).await {
            return Err(revert_or_rpc(action, from, e));
        }
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(|e| revert_or_rpc(action, from, e))?;
        let tx_hash = *pending.tx_hash();
        let failed = |message: String| PublishError::Failed {
            action,
            tx_hash: tx_hash.to_string(),
            message,
        };
        let receipt = pending
            .with_timeout(Some(RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !receipt.status() {
            return Err(failed("reverted on chain".into()));
        }
        let block_number = receipt
            .block_number
            .ok_or_else(|| failed("the receipt has no block".into()))?;
        Ok((SentTx { tx_hash, block_number }, receipt))
    }
}

fn rpc(method: &'static str, e: TransportError) -> PublishError {
    PublishError::Rpc {
        method,
        message: e.to_string(),
    }
}

fn unreachable_or_rpc(method: &'static str, e: TransportError) -> PublishError {
    match e {
        RpcError::Transport(_) => PublishError::Unreachable {
            method,
            message: e.to_string(),
        },
        other => rpc(method, other),
    }
}

fn revert_or_rpc(action: &'static str, from: Address, e: TransportError) -> PublishError {
    match &e {
        RpcError::ErrorResp(payload) => match revert_reason(payload, from) {
            Some(reason) => PublishError::Reverted { action, reason },
            None => rpc("eth_call", e),
        },
        _ => unreachable_or_rpc("eth_call", e),
    }
}

/// The ReleaseManager's custom errors in words, with what to do about each.
pub fn revert_reason(payload: &ErrorPayload, from: Address) -> Option<String> {
    let data = payload.as_revert_data()?;
    let reason = match IReleaseManagerErrors::abi_decode(&data) {
        Ok(IReleaseManagerErrors::MustPublishMetadataURI(_)) => {
            "MustPublishMetadataURI(): the operator set has no metadata URI yet; pass --metadata-uri URI".to_string()
        }
        Ok(IReleaseManagerErrors::InvalidUpgradeByTime(_)) => {
            "InvalidUpgradeByTime(): --upgrade-by is in the past; pass a future unix time, or 0 for no deadline"
                .to_string()
        }
        Ok(IReleaseManagerErrors::InvalidMetadataURI(_)) => {
            "InvalidMetadataURI(): the metadata URI is empty; pass a non-empty --metadata-uri".to_string()
        }
        Ok(IReleaseManagerErrors::InvalidPermissions(_)) => format!(
            "InvalidPermissions(): {from} may not publish for this AVS; sign with the AVS's key or an appointee's \
             (PermissionController), or use --impersonate on a dev chain"
        ),
        Ok(IReleaseManagerErrors::CurrentlyPaused(_)) => {
            "CurrentlyPaused(): the ReleaseManager is paused; try again once it is unpaused".to_string()
        }
        Err(_) if data.is_empty() => "execution reverted without a reason".to_string(),
        Err(_) => format!("execution reverted with data {data}"),
    };
    Some(reason)
}
