//! Metric names. The binary installs the Prometheus recorder; without one these are no-ops.

/// Polls of the chain head (counter).
pub const POLLS: &str = "quartz_monitor_polls_total";
/// Errors by `kind` (counter): RPC error kinds, `chain_moved`, `store`, `reorg`.
pub const ERRORS: &str = "quartz_monitor_errors_total";
/// Failed RPC calls by `kind`, including those a failover absorbed (counter).
pub const RPC_ERRORS: &str = "quartz_monitor_rpc_errors_total";
/// Switches to another RPC endpoint (counter).
pub const FAILOVERS: &str = "quartz_monitor_rpc_failovers_total";
/// Blocks between the scan target (safe head) and the checkpoint (gauge).
pub const LAG_BLOCKS: &str = "quartz_monitor_lag_blocks";
pub const HEAD_BLOCK: &str = "quartz_monitor_head_block";
pub const CHECKPOINT_BLOCK: &str = "quartz_monitor_checkpoint_block";
/// Releases by `outcome` (counter): enqueued, revived, duplicate, reconciled, cancelled,
/// unresolved, ignored.
pub const RELEASES: &str = "quartz_monitor_releases_total";
/// Logs read from the chain (counter).
pub const LOGS: &str = "quartz_monitor_logs_total";
/// Reorgs detected (counter).
pub const REORGS: &str = "quartz_monitor_reorgs_total";
/// The current `eth_getLogs` range (gauge).
pub const CHUNK_BLOCKS: &str = "quartz_monitor_chunk_blocks";

pub(crate) fn release(outcome: &'static str, count: u64) {
    if count > 0 {
        metrics::counter!(RELEASES, "outcome" => outcome).increment(count);
    }
}
