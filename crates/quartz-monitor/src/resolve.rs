//! Which operator set a `ReleasePublished` log belongs to. topic1 is
//! `keccak256(abi.encode(avs, id))`, so the set is found by (a) looking the hash up among known
//! sets, (b) decoding the transaction when it calls `publishRelease` directly, or (c) searching
//! the transaction's call trace for the inner `publishRelease` (multisigs, appointee contracts).

use std::collections::HashMap;

use alloy::primitives::{Address, B256};
use quartz_core::OperatorSet;

use crate::MonitorError;
use crate::config::Discover;
use crate::contract::{operator_set_topic, publish_release_target};
use crate::outbox::ResolvedBy;
use crate::rpc::{CallFrame, RpcErrorKind, RpcPool};

const TARGET: &str = "quartz::monitor";

/// Where a log's operator set was found, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Found(OperatorSet, ResolvedBy),
    /// Not a watched set, and discovery is off.
    Ignored,
    /// Recorded with this reason; never blocks the scan.
    Unresolved(String),
}

/// The operator set table plus discovery from transactions and call traces. Public so that the
/// monitor on AWS (a scheduled Lambda) resolves exactly as the embedded monitor does.
pub struct Resolver {
    table: HashMap<B256, OperatorSet>,
    discover: Discover,
    release_manager: Address,
}

impl Resolver {
    pub fn new(discover: Discover, release_manager: Address) -> Self {
        Self {
            table: HashMap::new(),
            discover,
            release_manager,
        }
    }

    pub fn add(&mut self, set: OperatorSet) {
        self.table.insert(operator_set_topic(&set), set);
    }

    pub fn known(&self) -> impl Iterator<Item = OperatorSet> + '_ {
        self.table.values().copied()
    }

    pub async fn resolve(&mut self, rpc: &RpcPool, topic: B256, tx_hash: B256) -> Result<Resolution, MonitorError> {
        if let Some(set) = self.table.get(&topic) {
            return Ok(Resolution::Found(*set, ResolvedBy::Table));
        }
        if self.discover == Discover::Watched {
            return Ok(Resolution::Ignored);
        }
        let resolution = self.discover_set(rpc, topic, tx_hash).await?;
        if let Resolution::Found(set, by) = &resolution {
            tracing::info!(target: TARGET, operator_set = %set, resolved_by = by.as_str(), "discovered an operator set");
            self.add(*set);
        }
        Ok(resolution)
    }

    async fn discover_set(&self, rpc: &RpcPool, topic: B256, tx_hash: B256) -> Result<Resolution, MonitorError> {
        let Some(tx) = rpc.transaction(tx_hash).await? else {
            return Ok(Resolution::Unresolved(format!(
                "transaction {tx_hash} not found on the RPC endpoint"
            )));
        };
        if tx.to == Some(self.release_manager)
            && let Some(set) = publish_release_target(&tx.input).filter(|s| operator_set_topic(s) == topic)
        {
            return Ok(Resolution::Found(set, ResolvedBy::Input));
        }
        let trace = match rpc.call_trace(tx_hash).await {
            Ok(trace) => trace,
            // A transient failure is retried with the whole chunk; anything else is final.
            Err(f)
                if matches!(
                    f.kind,
                    RpcErrorKind::RateLimited | RpcErrorKind::Unavailable | RpcErrorKind::Invalid
                ) =>
            {
                return Err(f.into());
            }
            Err(f) => {
                return Ok(Resolution::Unresolved(format!(
                    "not a direct publishRelease call and debug_traceTransaction failed ({}): {}",
                    f.kind, f.message
                )));
            }
        };
        Ok(match find_in_trace(&trace, self.release_manager, topic) {
            Some(set) => Resolution::Found(set, ResolvedBy::Trace),
            None => Resolution::Unresolved(
                "no successful publishRelease call for this operator set hash in the transaction's call trace".into(),
            ),
        })
    }
}

/// Depth-first search (iterative: traces are untrusted and may be deep) for a successful call to
/// the ReleaseManager whose `publishRelease` operator set hashes to `topic`. The proxy's
/// DELEGATECALL to its implementation carries the same input, so either frame matches.
pub(crate) fn find_in_trace(root: &CallFrame, release_manager: Address, topic: B256) -> Option<OperatorSet> {
    let mut stack = vec![root];
    while let Some(frame) = stack.pop() {
        if frame.error.is_some() {
            // A reverted call emitted no log, nor did anything beneath it.
            continue;
        }
        if frame.to == Some(release_manager)
            && let Some(set) = publish_release_target(&frame.input).filter(|s| operator_set_topic(s) == topic)
        {
            return Some(set);
        }
        stack.extend(frame.calls.iter().rev());
    }
    None
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::SolCall;

    use super::*;
    use crate::contract::{IReleaseManager, publishReleaseCall, to_abi};

    fn frame(to: Address, input: Vec<u8>, error: Option<&str>, calls: Vec<CallFrame>) -> CallFrame {
        CallFrame {
            kind: "CALL".into(),
            to: Some(to),
            input: input.into(),
            error: error.map(Into::into),
            calls,
        }
    }

    #[test]
    fn finds_the_inner_call_and_skips_reverted_ones() {
        let rm = Address::repeat_byte(0x11);
        let multisig = Address::repeat_byte(0x22);
        let set = OperatorSet::new(quartz_core::AvsAddress::new(multisig), 3);
        let other = OperatorSet::new(quartz_core::AvsAddress::new(multisig), 4);
        let call = |s: &OperatorSet| {
            publishReleaseCall {
                operatorSet: to_abi(s),
                release: IReleaseManager::Release {
                    artifacts: vec![],
                    upgradeByTime: 1,
                },
            }
            .abi_encode()
        };
        let trace = frame(
            multisig,
            vec![0xde, 0xad],
            None,
            vec![
                frame(rm, call(&set), Some("execution reverted"), vec![]),
                frame(rm, call(&other), None, vec![]),
                frame(multisig, vec![], None, vec![frame(rm, call(&set), None, vec![])]),
            ],
        );
        assert_eq!(find_in_trace(&trace, rm, operator_set_topic(&set)), Some(set));
        assert_eq!(find_in_trace(&trace, rm, operator_set_topic(&other)), Some(other));
        let only_reverted = frame(
            multisig,
            vec![],
            None,
            vec![frame(rm, call(&set), Some("revert"), vec![])],
        );
        assert_eq!(find_in_trace(&only_reverted, rm, operator_set_topic(&set)), None);
    }
}
