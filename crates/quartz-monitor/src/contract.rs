//! The IReleaseManager ABI, its production addresses, and conversions from chain values (which
//! are untrusted) to Quartz's domain types.

use alloy::primitives::{Address, B256, U256, address, keccak256};
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use quartz_core::{Artifact, AvsAddress, OperatorSet, Release, Sha256Digest};

alloy::sol! {
    /// The ABI of EigenLayer's ReleaseManager (v1.8.0), as far as Quartz uses it.
    #[derive(Debug, PartialEq, Eq)]
    interface IReleaseManager {
        struct OperatorSet { address avs; uint32 id; }
        struct Artifact { bytes32 digest; string registryUrl; }
        struct Release { Artifact[] artifacts; uint32 upgradeByTime; }

        event ReleasePublished(OperatorSet indexed operatorSet, uint256 indexed releaseId, Release release);

        function publishRelease(OperatorSet calldata operatorSet, Release calldata release) external returns (uint256 releaseId);
        function publishMetadataURI(OperatorSet calldata operatorSet, string calldata metadataURI) external;
        function getTotalReleases(OperatorSet memory operatorSet) external view returns (uint256);
        function getLatestRelease(OperatorSet memory operatorSet) external view returns (uint256, Release memory);
        function getMetadataURI(OperatorSet memory operatorSet) external view returns (string memory);

        error MustPublishMetadataURI();
        error InvalidUpgradeByTime();
        error InvalidMetadataURI();
        error InvalidPermissions();
        error CurrentlyPaused();
    }
}

pub use IReleaseManager::{
    IReleaseManagerErrors, ReleasePublished, getLatestReleaseCall, getMetadataURICall, getTotalReleasesCall,
    publishMetadataURICall, publishReleaseCall,
};

/// ReleaseManager on Ethereum mainnet.
pub const MAINNET_RELEASE_MANAGER: Address = address!("0xeDA3CAd031c0cf367cF3f517Ee0DC98F9bA80C8F");
/// ReleaseManager on Sepolia.
pub const SEPOLIA_RELEASE_MANAGER: Address = address!("0x59c8D715DCa616e032B744a753C017c9f3E16bf4");

/// The production ReleaseManager of a chain, when Quartz knows it.
pub fn default_release_manager(chain_id: u64) -> Option<Address> {
    match chain_id {
        1 => Some(MAINNET_RELEASE_MANAGER),
        11_155_111 => Some(SEPOLIA_RELEASE_MANAGER),
        _ => None,
    }
}

/// topic0 of `ReleasePublished`.
pub const RELEASE_PUBLISHED: B256 = ReleasePublished::SIGNATURE_HASH;

/// topic1 of `ReleasePublished`: an indexed struct is logged as `keccak256(abi.encode(struct))`.
pub fn operator_set_topic(set: &OperatorSet) -> B256 {
    keccak256(to_abi(set).abi_encode())
}

pub fn to_abi(set: &OperatorSet) -> IReleaseManager::OperatorSet {
    IReleaseManager::OperatorSet {
        avs: set.avs.as_address(),
        id: set.id,
    }
}

pub fn from_abi(set: &IReleaseManager::OperatorSet) -> OperatorSet {
    OperatorSet::new(AvsAddress::new(set.avs), set.id)
}

/// Why a chain value cannot become a [`Release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

/// A decoded `ReleasePublished` log, before its operator set is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedLog {
    pub set_topic: B256,
    pub release_id: u64,
    pub artifacts: Vec<Artifact>,
    pub upgrade_by_time: u32,
}

impl PublishedLog {
    pub fn decode(topics: &[B256], data: &[u8]) -> Result<Self, DecodeError> {
        let event = ReleasePublished::decode_raw_log(topics.iter().copied(), data)
            .map_err(|e| DecodeError(format!("not a ReleasePublished log: {e}")))?;
        let release_id = release_id_u64(event.releaseId)?;
        Ok(Self {
            set_topic: event.operatorSet,
            release_id,
            artifacts: artifacts(&event.release),
            upgrade_by_time: event.release.upgradeByTime,
        })
    }

    pub fn into_release(self, operator_set: OperatorSet) -> Release {
        Release {
            operator_set,
            release_id: self.release_id,
            artifacts: self.artifacts,
            upgrade_by_time: self.upgrade_by_time,
        }
    }
}

/// releaseId is a uint256 counter; Quartz stores it as a u64 (SQLite integer), which a counter
/// cannot outgrow, so a larger value means a corrupt or hostile source.
pub fn release_id_u64(value: U256) -> Result<u64, DecodeError> {
    u64::try_from(value)
        .ok()
        .filter(|v| i64::try_from(*v).is_ok())
        .ok_or_else(|| DecodeError(format!("releaseId {value} is out of range")))
}

pub fn artifacts(release: &IReleaseManager::Release) -> Vec<Artifact> {
    release
        .artifacts
        .iter()
        .map(|a| Artifact {
            digest: Sha256Digest::from_bytes(a.digest.0),
            registry_url: a.registryUrl.clone(),
        })
        .collect()
}

/// The operator set of a `publishRelease` call, if `input` is one.
pub fn publish_release_target(input: &[u8]) -> Option<OperatorSet> {
    if input.len() < 4 || input[..4] != publishReleaseCall::SELECTOR {
        return None;
    }
    publishReleaseCall::abi_decode(input)
        .ok()
        .map(|call| from_abi(&call.operatorSet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic0_matches_the_deployed_contract() {
        assert_eq!(
            RELEASE_PUBLISHED.to_string(),
            "0x2decd15222f7c4a8c3d4d2e14dcfdc5a0b52eb2d4b81796bfd010ee5cd972fd3"
        );
    }

    #[test]
    fn operator_set_topic_is_the_hash_of_the_encoded_struct() {
        let set = OperatorSet::new("0x8e14dB002737F89745bc98F987caeB18D0d47635".parse().unwrap(), 0);
        assert_eq!(
            operator_set_topic(&set).to_string(),
            "0x1cc882420bf185534b896cc0eeb000f596108d9aa512606c0fce04fe4f5001c5"
        );
    }

    #[test]
    fn decodes_publish_release_input_and_rejects_other_calls() {
        let set = OperatorSet::new("0x8e14dB002737F89745bc98F987caeB18D0d47635".parse().unwrap(), 7);
        let call = publishReleaseCall {
            operatorSet: to_abi(&set),
            release: IReleaseManager::Release {
                artifacts: vec![],
                upgradeByTime: 5,
            },
        };
        assert_eq!(publish_release_target(&call.abi_encode()), Some(set));
        let other = publishMetadataURICall {
            operatorSet: to_abi(&set),
            metadataURI: "x".into(),
        };
        assert_eq!(publish_release_target(&other.abi_encode()), None);
        assert_eq!(publish_release_target(&call.abi_encode()[..40]), None);
        assert_eq!(publish_release_target(&[]), None);
    }

    #[test]
    fn hostile_release_ids_are_refused() {
        assert!(release_id_u64(U256::MAX).is_err());
        assert!(release_id_u64(U256::from(u64::MAX)).is_err());
        assert_eq!(release_id_u64(U256::from(3u8)).unwrap(), 3);
    }

    #[test]
    fn decodes_a_log_and_refuses_garbage() {
        let release = IReleaseManager::Release {
            artifacts: vec![IReleaseManager::Artifact {
                digest: B256::repeat_byte(0xab),
                registryUrl: "ghcr.io/a/b".into(),
            }],
            upgradeByTime: 99,
        };
        let topic1 = B256::repeat_byte(1);
        let topics = [RELEASE_PUBLISHED, topic1, B256::from(U256::from(4u8))];
        let data = (release.clone(),).abi_encode_params();
        let log = PublishedLog::decode(&topics, &data).unwrap();
        assert_eq!((log.set_topic, log.release_id, log.upgrade_by_time), (topic1, 4, 99));
        assert_eq!(log.artifacts[0].registry_url, "ghcr.io/a/b");
        assert!(PublishedLog::decode(&topics, &data[..10]).is_err());
        assert!(PublishedLog::decode(&topics[..2], &data).is_err());
    }
}
