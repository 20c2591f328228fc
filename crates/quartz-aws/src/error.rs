//! Typed errors. SDK errors are classified by their typed variants and error codes, never by
//! message text.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use quartz_core::{OperatorSet, Sha256Digest};

use crate::checkpoint::BlockRef;

/// An AWS call that failed for a reason the caller cannot fix by changing its input.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{op}: AWS answered {code}: {message}")]
    Api {
        op: &'static str,
        code: String,
        message: String,
    },
    #[error("{op}: AWS could not be reached: {message}")]
    Unreachable { op: &'static str, message: String },
}

impl AwsError {
    pub(crate) fn from_sdk<E, R>(op: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match error {
            SdkError::ServiceError(service) => Self::Api {
                op,
                code: service.err().code().unwrap_or("Unknown").to_string(),
                message: service.err().message().unwrap_or("no message").to_string(),
            },
            other => Self::Unreachable {
                op,
                message: DisplayErrorContext(other).to_string(),
            },
        }
    }

    /// The service's error code, for the cases callers handle (e.g. `RepositoryAlreadyExistsException`).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::Unreachable { .. } => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The write's condition failed: the entry is absent or at another revision.
    #[error("revision mismatch: expected {expected}, found {}", found.map_or("no entry".to_string(), |r| r.to_string()))]
    RevisionMismatch { expected: u64, found: Option<u64> },
    /// Concurrent writers changed the entry between every read and write we tried.
    #[error("{set}: the entry kept changing during {attempts} attempts to write it; retry")]
    Contended { set: OperatorSet, attempts: u32 },
    #[error("stored attribute {attribute} is not valid: {reason}")]
    Corrupt { attribute: &'static str, reason: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Advancing must move forward (or repeat the same block with the same hash).
    #[error("the checkpoint is at block {} ({}); refusing to move it to block {} ({})", current.number, current.hash, attempted.number, attempted.hash)]
    NotForward { current: BlockRef, attempted: BlockRef },
    /// A rewind names the checkpoint it expects to replace, and another writer moved it.
    #[error("the checkpoint is not at {expected:?} (found {found:?}); another monitor moved it")]
    Moved {
        expected: BlockRef,
        found: Option<BlockRef>,
    },
    #[error("a rewind must go back: {to} is not below the current block {current}")]
    NotBackward { current: u64, to: u64 },
    #[error("stored checkpoint attribute {attribute} is not valid: {reason}")]
    Corrupt { attribute: &'static str, reason: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// Fetching or verifying the source image failed.
    #[error("source image: {0}")]
    Source(#[from] quartz_oci::OciError),
    #[error("pushing to {registry}: {message}")]
    Push { registry: String, message: String },
    /// The destination names the pushed manifest by another digest: it re-serialised it.
    #[error("the destination stored the manifest as {found}, not {expected}")]
    DigestChanged { expected: Sha256Digest, found: String },
    #[error("reading {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("ECR authorization: {0}")]
    Authorization(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
}
