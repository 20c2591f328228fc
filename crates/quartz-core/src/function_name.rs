use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{AvsAddress, DomainError, OperatorSet};

/// Lambda's limit on a function name.
pub const LAMBDA_NAME_MAX: usize = 64;

/// A Lambda function name: 1 to 64 characters of `[A-Za-z0-9-_]`.
///
/// For an operator set, [`FunctionName::for_operator_set`] applies Quartz's naming rule:
///
/// * the seed's form `avs-0x{40 hex}-opset-{id}-performer` whenever it fits in 64 characters,
///   which is for ids 0 to 9 (exactly 64 characters);
/// * otherwise the short form `avs-{40 hex}-opset-{id}` (at most 61 characters).
///
/// Both forms are injective, and they never collide with each other: the seed form always has
/// `0x` after `avs-` and ends in `-performer`, while in the short form the character after
/// `avs-0` is a hex digit, never `x`, and the name ends in a digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionName(String);

impl FunctionName {
    pub fn for_operator_set(set: &OperatorSet) -> Self {
        let seed_form = format!("avs-{}-opset-{}-performer", set.avs, set.id);
        if seed_form.len() <= LAMBDA_NAME_MAX {
            return Self(seed_form);
        }
        Self(format!("avs-{}-opset-{}", set.avs.bare_hex(), set.id))
    }

    /// The operator set whose rule produces this name, if it is one of Quartz's names.
    pub fn operator_set(&self) -> Option<OperatorSet> {
        let rest = self.0.strip_prefix("avs-")?;
        let (avs_part, rest) = rest.split_at_checked(if rest.starts_with("0x") { 42 } else { 40 })?;
        let avs: AvsAddress = if avs_part.starts_with("0x") {
            avs_part.parse().ok()?
        } else {
            format!("0x{avs_part}").parse().ok()?
        };
        let id_part = rest.strip_prefix("-opset-")?;
        let id_part = if avs_part.starts_with("0x") {
            id_part.strip_suffix("-performer")?
        } else {
            id_part
        };
        let set = OperatorSet::new(avs, crate::parse_operator_set_id(id_part).ok()?);
        (Self::for_operator_set(&set) == *self).then_some(set)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FunctionName {
    type Err = DomainError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| DomainError::FunctionName {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if value.is_empty() || value.len() > LAMBDA_NAME_MAX {
            return Err(err("must be 1 to 64 characters long"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(err("may contain only letters, digits, '-' and '_'"));
        }
        Ok(Self(value.to_string()))
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for FunctionName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FunctionName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const AVS: &str = "0x8e14dB002737F89745bc98F987caeB18D0d47635";

    fn name(id: u32) -> FunctionName {
        FunctionName::for_operator_set(&OperatorSet::new(AVS.parse().unwrap(), id))
    }

    fn assert_lambda_valid(name: &FunctionName) {
        assert!(
            name.as_str().len() <= LAMBDA_NAME_MAX,
            "{name} is {} chars",
            name.as_str().len()
        );
        assert!(
            name.as_str().parse::<FunctionName>().is_ok(),
            "{name} is not a valid Lambda name"
        );
    }

    #[test]
    fn single_digit_ids_use_the_seed_form() {
        assert_eq!(
            name(0).as_str(),
            "avs-0x8e14db002737f89745bc98f987caeb18d0d47635-opset-0-performer"
        );
        assert_eq!(
            name(9).as_str(),
            "avs-0x8e14db002737f89745bc98f987caeb18d0d47635-opset-9-performer"
        );
        assert_eq!(name(9).as_str().len(), 64);
    }

    #[test]
    fn longer_ids_use_the_short_form() {
        assert_eq!(
            name(10).as_str(),
            "avs-8e14db002737f89745bc98f987caeb18d0d47635-opset-10"
        );
        assert_eq!(
            name(999).as_str(),
            "avs-8e14db002737f89745bc98f987caeb18d0d47635-opset-999"
        );
        assert_eq!(
            name(u32::MAX).as_str(),
            "avs-8e14db002737f89745bc98f987caeb18d0d47635-opset-4294967295"
        );
    }

    #[test]
    fn every_form_is_valid_and_maps_back_to_its_operator_set() {
        for id in [0, 9, 10, 999, u32::MAX] {
            let n = name(id);
            assert_lambda_valid(&n);
            let set = n.operator_set().expect("parses back");
            assert_eq!(set.id, id);
            assert_eq!(set.avs, AVS.parse().unwrap());
        }
    }

    #[test]
    fn names_are_deterministic_and_collision_free() {
        let avs_a: AvsAddress = AVS.parse().unwrap();
        let avs_b: AvsAddress = "0x0000000000000000000000000000000000000001".parse().unwrap();
        let ids = [0, 1, 9, 10, 11, 99, 100, 999, 1000, 65535, u32::MAX - 1, u32::MAX];
        let mut seen = HashSet::new();
        for avs in [avs_a, avs_b] {
            for id in ids {
                let n = FunctionName::for_operator_set(&OperatorSet::new(avs, id));
                assert_eq!(n, FunctionName::for_operator_set(&OperatorSet::new(avs, id)));
                assert!(seen.insert(n.clone()), "collision on {n}");
            }
        }
    }

    #[test]
    fn names_not_made_by_the_rule_have_no_operator_set() {
        for other in [
            "my-function",
            "avs-0x8E14DB002737F89745BC98F987CAEB18D0D47635-opset-1-performer",
            "avs-8e14db002737f89745bc98f987caeb18d0d47635-opset-1",
            "avs-8e14db002737f89745bc98f987caeb18d0d47635-opset-01",
        ] {
            assert_eq!(other.parse::<FunctionName>().unwrap().operator_set(), None, "{other}");
        }
    }

    #[test]
    fn lambda_name_validation() {
        assert!("".parse::<FunctionName>().is_err());
        assert!("a".repeat(65).parse::<FunctionName>().is_err());
        assert!("has space".parse::<FunctionName>().is_err());
        assert!("ok_Name-1".parse::<FunctionName>().is_ok());
    }
}
