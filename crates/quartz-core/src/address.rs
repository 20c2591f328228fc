use std::fmt;
use std::str::FromStr;

use alloy_primitives::Address;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// An AVS address. Accepted all-lowercase, all-uppercase or as a valid EIP-55 checksum; a
/// mixed-case string with a wrong checksum is refused because it is most likely a typo.
/// Always displayed and stored as lowercase `0x`-hex, which is the registry's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AvsAddress(Address);

impl AvsAddress {
    pub fn new(address: Address) -> Self {
        Self(address)
    }

    pub fn as_address(&self) -> Address {
        self.0
    }

    /// Lowercase hex without the `0x` prefix (40 characters).
    pub fn bare_hex(&self) -> String {
        alloy_primitives::hex::encode(self.0.as_slice())
    }

    pub fn to_checksum(&self) -> String {
        self.0.to_checksum(None)
    }
}

impl FromStr for AvsAddress {
    type Err = DomainError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| DomainError::Address {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let hex = value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))
            .ok_or_else(|| err("must start with 0x"))?;
        if hex.len() != 40 {
            return Err(err("expected 40 hex digits after 0x"));
        }
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("contains a character that is not a hex digit"));
        }
        let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
        let address = Address::from_str(&format!("0x{}", hex.to_ascii_lowercase()))
            .map_err(|_| err("not a 20-byte hex address"))?;
        if has_lower && has_upper {
            let checksummed = address.to_checksum(None);
            if checksummed[2..] != *hex {
                return Err(err(&format!(
                    "mixed case but not a valid EIP-55 checksum (expected {checksummed})"
                )));
            }
        }
        Ok(Self(address))
    }
}

impl fmt::Display for AvsAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", self.bare_hex())
    }
}

impl Serialize for AvsAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AvsAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// An EigenLayer operator set: the AVS and its numeric id. The unit Quartz deploys one function for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorSet {
    #[serde(rename = "avsAddress")]
    pub avs: AvsAddress,
    #[serde(rename = "operatorSetId")]
    pub id: u32,
}

impl OperatorSet {
    pub fn new(avs: AvsAddress, id: u32) -> Self {
        Self { avs, id }
    }

    /// Parses the two halves as they arrive in a URL path or CLI arguments.
    pub fn parse(avs: &str, id: &str) -> Result<Self, DomainError> {
        Ok(Self {
            avs: avs.parse()?,
            id: parse_operator_set_id(id)?,
        })
    }
}

/// Parses an operator set id written in decimal; leading `+`, signs and whitespace are refused.
pub fn parse_operator_set_id(value: &str) -> Result<u32, DomainError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::OperatorSetId {
            value: value.to_string(),
        });
    }
    value.parse().map_err(|_| DomainError::OperatorSetId {
        value: value.to_string(),
    })
}

impl fmt::Display for OperatorSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.avs, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKSUMMED: &str = "0x8e14dB002737F89745bc98F987caeB18D0d47635";

    #[test]
    fn accepts_lower_upper_and_checksummed_and_stores_lowercase() {
        let lower: AvsAddress = CHECKSUMMED.to_lowercase().parse().unwrap();
        let upper: AvsAddress = format!("0x{}", CHECKSUMMED[2..].to_uppercase()).parse().unwrap();
        let checksummed: AvsAddress = CHECKSUMMED.parse().unwrap();
        assert_eq!(lower, upper);
        assert_eq!(lower, checksummed);
        assert_eq!(checksummed.to_string(), CHECKSUMMED.to_lowercase());
        assert_eq!(checksummed.to_checksum(), CHECKSUMMED);
    }

    #[test]
    fn refuses_bad_checksum_with_the_expected_one() {
        let broken = CHECKSUMMED.replace("dB", "Db");
        let err = broken.parse::<AvsAddress>().unwrap_err().to_string();
        assert!(err.contains("EIP-55") && err.contains(CHECKSUMMED), "{err}");
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "",
            "0x",
            "8e14db002737f89745bc98f987caeb18d0d47635",
            "0x8e14",
            "0xzz14db002737f89745bc98f987caeb18d0d47635",
        ] {
            assert!(bad.parse::<AvsAddress>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn operator_set_ids_are_plain_decimal_u32() {
        assert_eq!(parse_operator_set_id("0").unwrap(), 0);
        assert_eq!(parse_operator_set_id("4294967295").unwrap(), u32::MAX);
        for bad in ["", "-1", "+1", "4294967296", "1.5", " 1", "abc"] {
            assert!(parse_operator_set_id(bad).is_err(), "{bad} accepted");
        }
    }
}
