//! The performer registry as a port: the SQLite [`Store`] (embedded) or DynamoDB on AWS
//! (`quartz_aws::DynamoRegistry`). Both give the same semantics: a revision bumped by every
//! write, conditional writes on it, and release history appended with the entry.

use crate::{PerformerPage, Store, StoreError, WriteCondition};
use async_trait::async_trait;
use quartz_core::registry::{Performer, PerformerUpdate, ReleaseOutcome, ReleaseRecord};
use quartz_core::{AvsAddress, OperatorSet};

/// What a backend reports: a failed condition (412) or anything else (500).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("revision mismatch: expected {expected}, found {}", found.map_or("no entry".to_string(), |r| r.to_string()))]
    RevisionMismatch { expected: u64, found: Option<u64> },
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait PerformerBackend: Send + Sync {
    async fn put_performer(
        &self,
        set: OperatorSet,
        update: PerformerUpdate,
        condition: WriteCondition,
        outcome: ReleaseOutcome,
    ) -> Result<(Performer, bool), BackendError>;
    async fn get_performer(&self, set: OperatorSet) -> Result<Option<Performer>, BackendError>;
    async fn list_performers(
        &self,
        after: Option<(AvsAddress, u64)>,
        avs: Option<AvsAddress>,
        limit: usize,
    ) -> Result<PerformerPage, BackendError>;
    async fn delete_performer(
        &self,
        set: OperatorSet,
        condition: WriteCondition,
    ) -> Result<Option<Performer>, BackendError>;
    async fn release_history(&self, set: OperatorSet, limit: usize) -> Result<Vec<ReleaseRecord>, BackendError>;
    /// Appends to the history without touching the entry (failures).
    async fn append_release_record(&self, set: OperatorSet, record: ReleaseRecord) -> Result<(), BackendError>;
    /// Whether the backend answers, for `/healthz`.
    async fn ping(&self) -> Result<(), BackendError>;
}

impl From<StoreError> for BackendError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::RevisionMismatch { expected, found } => Self::RevisionMismatch { expected, found },
            other => Self::Failed(other.to_string()),
        }
    }
}

#[async_trait]
impl PerformerBackend for Store {
    async fn put_performer(
        &self,
        set: OperatorSet,
        update: PerformerUpdate,
        condition: WriteCondition,
        outcome: ReleaseOutcome,
    ) -> Result<(Performer, bool), BackendError> {
        Ok(Store::put_performer(self, set, update, condition, outcome).await?)
    }

    async fn get_performer(&self, set: OperatorSet) -> Result<Option<Performer>, BackendError> {
        Ok(Store::get_performer(self, set).await?)
    }

    async fn list_performers(
        &self,
        after: Option<(AvsAddress, u64)>,
        avs: Option<AvsAddress>,
        limit: usize,
    ) -> Result<PerformerPage, BackendError> {
        Ok(Store::list_performers(self, after, avs, limit).await?)
    }

    async fn delete_performer(
        &self,
        set: OperatorSet,
        condition: WriteCondition,
    ) -> Result<Option<Performer>, BackendError> {
        Ok(Store::delete_performer(self, set, condition).await?)
    }

    async fn release_history(&self, set: OperatorSet, limit: usize) -> Result<Vec<ReleaseRecord>, BackendError> {
        Ok(Store::release_history(self, set, limit).await?)
    }

    async fn append_release_record(&self, set: OperatorSet, record: ReleaseRecord) -> Result<(), BackendError> {
        Ok(Store::append_release_record(self, set, record).await?)
    }

    async fn ping(&self) -> Result<(), BackendError> {
        Ok(Store::ping(self).await?)
    }
}
