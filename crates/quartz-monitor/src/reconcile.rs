//! Level-triggered repair: for every known operator set, the latest release on chain (at the
//! safe head) must be in the outbox. A log missed for any reason — a start window that began
//! after it, a discovery setting, an RPC that dropped it — is enqueued here.

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use quartz_core::{OperatorSet, Release};

use crate::contract::{self, getLatestReleaseCall, getTotalReleasesCall};
use crate::db;
use crate::monitor::{Monitor, TARGET};
use crate::rpc::RpcPool;
use crate::{MonitorError, telemetry};

/// What one reconciliation pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub sets: u64,
    pub enqueued: u64,
}

impl Monitor {
    pub async fn reconcile(&mut self) -> Result<Reconciled, MonitorError> {
        self.refresh_known_sets().await?;
        let (_, target) = self.safe_head().await?;
        let mut sets: Vec<OperatorSet> = self.resolver.known().collect();
        sets.sort();
        let mut result = Reconciled::default();
        for set in sets {
            result.sets += 1;
            let Some(release) = self.latest_release(&set, target).await? else {
                continue;
            };
            let scope = self.scope;
            if let Some(outcome) = self
                .store
                .write(move |tx| db::upsert_reconciled(tx, scope, &release))
                .await?
            {
                result.enqueued += 1;
                telemetry::release(outcome, 1);
                tracing::info!(target: TARGET, operator_set = %set, outcome, "reconciliation enqueued a release");
            }
        }
        tracing::debug!(target: TARGET, sets = result.sets, enqueued = result.enqueued, block = target, "reconciled");
        Ok(result)
    }

    async fn latest_release(&self, set: &OperatorSet, at: u64) -> Result<Option<Release>, MonitorError> {
        latest_release(&self.rpc, self.release_manager(), set, at).await
    }
}

/// The latest release of `set` on the ReleaseManager `rm` as of block `at`, or `None` when it
/// has none (`getTotalReleases` is zero, where `getLatestRelease` would revert).
pub async fn latest_release(
    rpc: &RpcPool,
    rm: Address,
    set: &OperatorSet,
    at: u64,
) -> Result<Option<Release>, MonitorError> {
    let bad = |what: String| MonitorError::Rpc {
        method: "eth_call",
        kind: crate::rpc::RpcErrorKind::Invalid,
        message: what,
    };
    let data = getTotalReleasesCall {
        operatorSet: contract::to_abi(set),
    }
    .abi_encode();
    let raw = rpc.call(rm, data.into(), at).await?;
    let total: U256 = getTotalReleasesCall::abi_decode_returns(&raw)
        .map_err(|e| bad(format!("getTotalReleases returned undecodable data: {e}")))?;
    if total.is_zero() {
        return Ok(None);
    }
    let data = getLatestReleaseCall {
        operatorSet: contract::to_abi(set),
    }
    .abi_encode();
    let raw = rpc.call(rm, data.into(), at).await?;
    let latest = getLatestReleaseCall::abi_decode_returns(&raw)
        .map_err(|e| bad(format!("getLatestRelease returned undecodable data: {e}")))?;
    let release_id = contract::release_id_u64(latest._0).map_err(|e| bad(e.0))?;
    Ok(Some(Release {
        operator_set: *set,
        release_id,
        artifacts: contract::artifacts(&latest._1),
        upgrade_by_time: latest._1.upgradeByTime,
    }))
}
