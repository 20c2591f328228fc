use quartz_store::StoreError;

/// Everything that can stop the monitor or fail a call on its library API.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A `[monitor]` setting is invalid; `key` is its name in quartz.toml.
    #[error("invalid setting monitor.{key}: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("no ReleaseManager address is known for chain id {chain_id}; set monitor.release_manager")]
    NoReleaseManager { chain_id: u64 },
    #[error("the RPC endpoint reports chain id {actual} but monitor.chain_id is {expected}")]
    ChainIdMismatch { expected: u64, actual: u64 },
    /// One RPC call failed on every configured endpoint.
    #[error("RPC {method} failed ({kind}): {message}")]
    Rpc {
        method: &'static str,
        kind: crate::rpc::RpcErrorKind,
        message: String,
    },
    /// The chain moved under a scan (a block hash changed between two reads); the scan restarts.
    #[error("the chain reorganized at or below block {block} while scanning")]
    ChainMoved { block: u64 },
    /// Another monitor advanced the same checkpoint; two monitors must not share one store and chain.
    #[error(
        "checkpoint of chain {chain_id} moved from {expected} to {found} under this monitor; is another monitor running on the same store?"
    )]
    CheckpointConflict { chain_id: u64, expected: u64, found: u64 },
    #[error("release {key} is not in the outbox")]
    UnknownRelease { key: String },
    #[error("release {key} is {status}, not claimed; it cannot be completed")]
    NotClaimed { key: String, status: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MonitorError {
    /// Errors that a later retry can fix (the RPC, the chain moving); the others stop the monitor.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Rpc { .. } | Self::ChainMoved { .. } | Self::Store(_))
    }

    /// A short label for the `kind` of the errors metric.
    pub fn metric_kind(&self) -> &'static str {
        match self {
            Self::Rpc { kind, .. } => kind.as_str(),
            Self::ChainMoved { .. } => "chain_moved",
            Self::Store(_) => "store",
            Self::CheckpointConflict { .. } => "checkpoint_conflict",
            _ => "other",
        }
    }
}

/// Builds the error a store closure returns for a value in a monitor table that does not parse.
pub(crate) fn corrupt(column: &'static str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        column,
        reason: reason.to_string(),
    }
}
