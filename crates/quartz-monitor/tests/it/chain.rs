//! Drives the anvil fork: impersonation, publishing on the real ReleaseManager, mining,
//! snapshots, and a forwarding contract.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;
use quartz_core::{AvsAddress, OperatorSet};
use quartz_monitor::contract::{
    IReleaseManager, SEPOLIA_RELEASE_MANAGER, getTotalReleasesCall, publishMetadataURICall, publishReleaseCall, to_abi,
};
use serde_json::{Value, json};

pub const RM: Address = SEPOLIA_RELEASE_MANAGER;
/// The AVS of the fork's existing operator sets 0 (with release 0) and 1.
pub const FORK_AVS: &str = "0x8e14dB002737F89745bc98F987caeB18D0d47635";
/// anvil's first dev account, unlocked.
pub const DEV: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Far in the future: `upgradeByTime` must not be in the past.
pub const LATER: u32 = 4_000_000_000;

pub struct Chain {
    url: String,
    http: reqwest::Client,
}

/// A published release as the test expects the monitor to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub set: OperatorSet,
    pub release_id: u64,
    pub digests: Vec<B256>,
    pub urls: Vec<String>,
    pub upgrade_by_time: u32,
    pub block: u64,
    pub tx: B256,
}

impl Chain {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response: Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(error) = response.get("error") {
            panic!("{method} failed: {error}");
        }
        response["result"].clone()
    }

    pub async fn head(&self) -> u64 {
        hex_u64(&self.rpc("eth_blockNumber", json!([])).await)
    }

    pub async fn block_hash(&self, number: u64) -> B256 {
        let block = self
            .rpc("eth_getBlockByNumber", json!([format!("0x{number:x}"), false]))
            .await;
        block["hash"].as_str().unwrap().parse().unwrap()
    }

    /// Mines `count` empty blocks.
    pub async fn mine(&self, count: u64) {
        if count > 0 {
            self.rpc("anvil_mine", json!([format!("0x{count:x}")])).await;
        }
    }

    /// Mines until the head is `number`.
    pub async fn mine_to(&self, number: u64) {
        let head = self.head().await;
        assert!(head <= number, "head {head} already past {number}");
        self.mine(number - head).await;
    }

    pub async fn snapshot(&self) -> Value {
        self.rpc("evm_snapshot", json!([])).await
    }

    pub async fn revert(&self, id: Value) {
        assert_eq!(self.rpc("evm_revert", json!([id])).await, json!(true));
    }

    pub async fn fund(&self, account: Address) {
        self.rpc("anvil_impersonateAccount", json!([account])).await;
        self.rpc("anvil_setBalance", json!([account, "0x56BC75E2D63100000"]))
            .await;
    }

    /// Sends a transaction and returns (hash, block number) once mined; panics if it reverted.
    pub async fn send(&self, from: Address, to: Option<Address>, data: Vec<u8>) -> (B256, u64, Value) {
        let mut tx = json!({ "from": from, "data": format!("0x{}", alloy::hex::encode(&data)), "gas": "0x1000000" });
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash: B256 = self
            .rpc("eth_sendTransaction", json!([tx]))
            .await
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        // anvil mines the transaction right away, but its receipt may appear a moment later.
        let mut receipt = Value::Null;
        for _ in 0..500 {
            receipt = self.rpc("eth_getTransactionReceipt", json!([hash])).await;
            if !receipt.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(receipt["status"], json!("0x1"), "transaction reverted: {receipt}");
        (hash, hex_u64(&receipt["blockNumber"]), receipt)
    }

    pub async fn total_releases(&self, set: &OperatorSet) -> u64 {
        let data = getTotalReleasesCall {
            operatorSet: to_abi(set),
        }
        .abi_encode();
        let out = self
            .rpc(
                "eth_call",
                json!([{ "to": RM, "data": format!("0x{}", alloy::hex::encode(data)) }, "latest"]),
            )
            .await;
        let bytes = alloy::hex::decode(out.as_str().unwrap()).unwrap();
        U256::from_be_slice(&bytes).to::<u64>()
    }

    /// Makes `avs` an AVS with a funded, impersonated account and a metadata URI for `ids`.
    pub async fn new_avs(&self, avs: Address, ids: &[u32]) {
        self.fund(avs).await;
        for id in ids {
            let set = OperatorSet::new(AvsAddress::new(avs), *id);
            let call = publishMetadataURICall {
                operatorSet: to_abi(&set),
                metadataURI: "https://quartz.test/m".into(),
            };
            self.send(avs, Some(RM), call.abi_encode()).await;
        }
    }

    /// Publishes a release for `set` from its AVS account, with artifacts made from `seed`.
    pub async fn publish(&self, set: &OperatorSet, seed: u8, artifacts: usize) -> Published {
        let release_id = self.total_releases(set).await;
        let call = release_call(set, seed, artifacts);
        let (tx, block, _) = self.send(set.avs.as_address(), Some(RM), call.abi_encode()).await;
        published(set, release_id, &call, block, tx)
    }

    /// Deploys a contract that forwards any call, with its calldata, to the ReleaseManager:
    /// an AVS that is a contract (like a multisig) publishing through an inner call.
    pub async fn deploy_forwarder(&self) -> Address {
        let dev: Address = DEV.parse().unwrap();
        self.fund(dev).await;
        // Runtime: copy calldata, CALL the ReleaseManager with it, bubble up the result or revert.
        let mut runtime = alloy::hex::decode("365f5f375f5f365f5f73").unwrap();
        runtime.extend_from_slice(RM.as_slice());
        runtime.extend(alloy::hex::decode("5af13d5f5f3e602a573d5ffd5b3d5ff3").unwrap());
        assert_eq!(runtime.len(), 0x2e);
        let mut init = alloy::hex::decode("602e8060095f395ff3").unwrap();
        init.extend(runtime);
        let (_, _, receipt) = self.send(dev, None, init).await;
        receipt["contractAddress"].as_str().unwrap().parse().unwrap()
    }

    /// Publishes through the forwarder, which is itself the AVS: the transaction's `to` is the
    /// forwarder, and the ReleaseManager call appears only in the trace.
    pub async fn publish_via(&self, forwarder: Address, set: &OperatorSet, seed: u8) -> Published {
        let dev: Address = DEV.parse().unwrap();
        let release_id = self.total_releases(set).await;
        let call = release_call(set, seed, 1);
        let (tx, block, _) = self.send(dev, Some(forwarder), call.abi_encode()).await;
        published(set, release_id, &call, block, tx)
    }

    pub async fn metadata_via(&self, forwarder: Address, set: &OperatorSet) {
        let dev: Address = DEV.parse().unwrap();
        let call = publishMetadataURICall {
            operatorSet: to_abi(set),
            metadataURI: "https://quartz.test/f".into(),
        };
        self.send(dev, Some(forwarder), call.abi_encode()).await;
    }
}

fn release_call(set: &OperatorSet, seed: u8, artifacts: usize) -> publishReleaseCall {
    let artifacts = (0..artifacts)
        .map(|i| IReleaseManager::Artifact {
            digest: B256::repeat_byte(seed.wrapping_add(i as u8)),
            registryUrl: format!("ghcr.io/quartz-test/perf-{seed}-{i}"),
        })
        .collect();
    publishReleaseCall {
        operatorSet: to_abi(set),
        release: IReleaseManager::Release {
            artifacts,
            upgradeByTime: LATER + u32::from(seed),
        },
    }
}

fn published(set: &OperatorSet, release_id: u64, call: &publishReleaseCall, block: u64, tx: B256) -> Published {
    Published {
        set: *set,
        release_id,
        digests: call.release.artifacts.iter().map(|a| a.digest).collect(),
        urls: call.release.artifacts.iter().map(|a| a.registryUrl.clone()).collect(),
        upgrade_by_time: call.release.upgradeByTime,
        block,
        tx,
    }
}

pub fn hex_u64(value: &Value) -> u64 {
    let text = value.as_str().unwrap();
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()
}

pub fn set(avs: Address, id: u32) -> OperatorSet {
    OperatorSet::new(AvsAddress::new(avs), id)
}
