//! DynamoDB behind the registry port, for the registry HTTP API (and any other user of it).

use async_trait::async_trait;
use quartz_core::registry::{Performer, PerformerUpdate, ReleaseOutcome, ReleaseRecord};
use quartz_core::{AvsAddress, OperatorSet};
use quartz_store::{BackendError, PerformerBackend, PerformerPage, WriteCondition};

use super::DynamoRegistry;
use crate::{AwsError, RegistryError};

impl From<RegistryError> for BackendError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::RevisionMismatch { expected, found } => Self::RevisionMismatch { expected, found },
            other => Self::Failed(other.to_string()),
        }
    }
}

#[async_trait]
impl PerformerBackend for DynamoRegistry {
    async fn put_performer(
        &self,
        set: OperatorSet,
        update: PerformerUpdate,
        condition: WriteCondition,
        outcome: ReleaseOutcome,
    ) -> Result<(Performer, bool), BackendError> {
        Ok(DynamoRegistry::put_performer(self, set, update, condition, outcome).await?)
    }

    async fn get_performer(&self, set: OperatorSet) -> Result<Option<Performer>, BackendError> {
        Ok(DynamoRegistry::get_performer(self, set).await?)
    }

    async fn list_performers(
        &self,
        after: Option<(AvsAddress, u64)>,
        avs: Option<AvsAddress>,
        limit: usize,
    ) -> Result<PerformerPage, BackendError> {
        Ok(DynamoRegistry::list_performers(self, after, avs, limit).await?)
    }

    async fn delete_performer(
        &self,
        set: OperatorSet,
        condition: WriteCondition,
    ) -> Result<Option<Performer>, BackendError> {
        Ok(DynamoRegistry::delete_performer(self, set, condition).await?)
    }

    async fn release_history(&self, set: OperatorSet, limit: usize) -> Result<Vec<ReleaseRecord>, BackendError> {
        Ok(DynamoRegistry::release_history(self, set, limit).await?)
    }

    async fn append_release_record(&self, set: OperatorSet, record: ReleaseRecord) -> Result<(), BackendError> {
        Ok(DynamoRegistry::append_release_record(self, set, record).await?)
    }

    async fn ping(&self) -> Result<(), BackendError> {
        self.client
            .describe_table()
            .table_name(&self.tables.performers)
            .send()
            .await
            .map_err(|e| BackendError::Failed(AwsError::from_sdk("DescribeTable", &e).to_string()))?;
        Ok(())
    }
}
