//! The performer registry on DynamoDB, with the semantics of the SQLite store's registry
//! (`quartz_store::Store::put_performer` and friends): a revision counter bumped by every write,
//! conditional writes on it, and the release history appended in the same transaction as the
//! entry whenever the release changes.
//!
//! Items carry the HTTP API's field names. Absent optional fields are absent attributes. Every
//! write is conditional on what was read (the revision, or absence), so a read-modify-write that
//! raced another writer is retried on a fresh read instead of overwriting it.

mod backend;
mod item;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use quartz_core::registry::{Performer, PerformerUpdate, ReleaseOutcome, ReleaseRecord};
use quartz_core::{AvsAddress, FunctionName, OperatorSet};
use quartz_store::{PerformerPage, WriteCondition, now_rfc3339};

use crate::{AwsError, RegistryError};
use item::{history_item, history_key, key, n, performer_from_item, performer_item, record_from_item};

/// The registry table (partition key `avsAddress` S, sort key `operatorSetId` N, GSI
/// `functionNameIndex` on `functionName`).
pub const REGISTRY_TABLE: &str = "quartz-performer-registry";
/// The release history (partition key `operatorSet` S = `{avs}/{id}`, sort key `recordKey` S =
/// `{deployedAt}#{random}`, so a query newest first is a reverse scan of one partition). Kept in
/// its own table because history outlives a deleted entry.
pub const HISTORY_TABLE: &str = "quartz-release-history";
pub const FUNCTION_NAME_INDEX: &str = "functionNameIndex";

/// Read-modify-write attempts before giving up on an entry that other writers keep changing.
const MAX_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryTables {
    pub performers: String,
    pub history: String,
}

impl Default for RegistryTables {
    fn default() -> Self {
        Self {
            performers: REGISTRY_TABLE.to_string(),
            history: HISTORY_TABLE.to_string(),
        }
    }
}

#[derive(Clone)]
pub struct DynamoRegistry {
    client: Client,
    tables: RegistryTables,
}

impl DynamoRegistry {
    pub fn new(sdk: &aws_config::SdkConfig, tables: RegistryTables) -> Self {
        Self {
            client: Client::new(sdk),
            tables,
        }
    }

    pub fn tables(&self) -> &RegistryTables {
        &self.tables
    }

    /// Creates both tables as the stack defines them (on-demand billing); existing ones are kept.
    /// For moto and development accounts: in production the CloudFormation stack owns them.
    pub async fn create_tables(&self) -> Result<(), RegistryError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
            ProjectionType, ScalarAttributeType as T,
        };
        let attr = |name: &str, kind: T| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
        };
        let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        let build = |e: aws_sdk_dynamodb::error::BuildError| AwsError::Api {
            op: "CreateTable",
            code: "Build".into(),
            message: e.to_string(),
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(FUNCTION_NAME_INDEX)
            .key_schema(key("functionName", KeyType::Hash).map_err(build)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build)?;
        let performers = self
            .client
            .create_table()
            .table_name(&self.tables.performers)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("avsAddress", T::S).map_err(build)?)
            .attribute_definitions(attr("operatorSetId", T::N).map_err(build)?)
            .attribute_definitions(attr("functionName", T::S).map_err(build)?)
            .key_schema(key("avsAddress", KeyType::Hash).map_err(build)?)
            .key_schema(key("operatorSetId", KeyType::Range).map_err(build)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        ignore_existing(performers.map(drop))?;
        let history = self
            .client
            .create_table()
            .table_name(&self.tables.history)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("operatorSet", T::S).map_err(build)?)
            .attribute_definitions(attr("recordKey", T::S).map_err(build)?)
            .key_schema(key("operatorSet", KeyType::Hash).map_err(build)?)
            .key_schema(key("recordKey", KeyType::Range).map_err(build)?)
            .send()
            .await;
        ignore_existing(history.map(drop))?;
        Ok(())
    }

    /// Creates or replaces the entry for `set`; see `quartz_store::Store::put_performer`.
    pub async fn put_performer(
        &self,
        set: OperatorSet,
        update: PerformerUpdate,
        condition: WriteCondition,
        outcome: ReleaseOutcome,
    ) -> Result<(Performer, bool), RegistryError> {
        for _ in 0..MAX_ATTEMPTS {
            let existing = self.get_performer(set).await?;
            check_condition(condition, existing.as_ref().map(|p| p.revision))?;
            let now = now_rfc3339();
            let release_changed = update.release_id.is_some()
                && existing
                    .as_ref()
                    .is_none_or(|p| p.release_id != update.release_id || p.artifact_digest != update.artifact_digest);
            let performer = Performer {
                avs_address: set.avs,
                operator_set_id: set.id,
                function_name: update.function_name.clone(),
                function_arn: update.function_arn.clone(),
                release_id: update.release_id,
                function_version: update.function_version.clone(),
                image_uri: update.image_uri.clone(),
                artifact_digest: update.artifact_digest,
                status: update.status,
                revision: existing.as_ref().map_or(1, |p| p.revision + 1),
                created_at: existing.as_ref().map_or_else(|| now.clone(), |p| p.created_at.clone()),
                updated_at: now.clone(),
            };
            // Conditional on exactly what was read, so that a concurrent write is never lost.
            let (expression, values) = match &existing {
                Some(found) => (
                    "revision = :read",
                    HashMap::from([(":read".to_string(), n(found.revision))]),
                ),
                None => ("attribute_not_exists(avsAddress)", HashMap::new()),
            };
            let put = Put::builder()
                .table_name(&self.tables.performers)
                .set_item(Some(performer_item(&performer)))
                .condition_expression(expression)
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .build()
                .map_err(|e| build_error("PutItem", e))?;
            let record = match (release_changed, update.release_id) {
                (true, Some(release_id)) => Some(ReleaseRecord {
                    release_id,
                    artifact_digest: update.artifact_digest,
                    image_uri: update.image_uri.clone(),
                    function_version: update.function_version.clone(),
                    deployed_at: now,
                    outcome,
                    detail: None,
                }),
                _ => None,
            };
            let written = match record {
                Some(record) => self.put_with_history(put, set, &record).await?,
                None => self.put_alone(put).await?,
            };
            if written {
                return Ok((performer, existing.is_none()));
            }
        }
        Err(RegistryError::Contended {
            set,
            attempts: MAX_ATTEMPTS,
        })
    }

    /// `Ok(false)` when the condition failed.
    async fn put_alone(&self, put: Put) -> Result<bool, RegistryError> {
        let result = self
            .client
            .put_item()
            .table_name(put.table_name)
            .set_item(Some(put.item))
            .set_condition_expression(put.condition_expression)
            .set_expression_attribute_values(put.expression_attribute_values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::from_sdk("PutItem", &e).into()),
        }
    }

    /// The entry and its history line in one transaction: both or neither.
    async fn put_with_history(
        &self,
        put: Put,
        set: OperatorSet,
        record: &ReleaseRecord,
    ) -> Result<bool, RegistryError> {
        let history = self.history_put(set, record)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().put(history).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                _ => Err(AwsError::from_sdk("TransactWriteItems", &e).into()),
            },
        }
    }

    fn history_put(&self, set: OperatorSet, record: &ReleaseRecord) -> Result<Put, RegistryError> {
        Put::builder()
            .table_name(&self.tables.history)
            .set_item(Some(history_item(set, record)))
            .condition_expression("attribute_not_exists(recordKey)")
            .build()
            .map_err(|e| build_error("PutItem", e))
    }

    pub async fn get_performer(&self, set: OperatorSet) -> Result<Option<Performer>, RegistryError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.tables.performers)
            .set_key(Some(key(set)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetItem", &e))?;
        found.item().map(performer_from_item).transpose()
    }

    /// The entry whose function is `name`, through the `functionNameIndex` GSI (eventually
    /// consistent, as every GSI read is).
    pub async fn find_by_function(&self, name: &FunctionName) -> Result<Option<Performer>, RegistryError> {
        let found = self
            .client
            .query()
            .table_name(&self.tables.performers)
            .index_name(FUNCTION_NAME_INDEX)
            .key_condition_expression("functionName = :f")
            .expression_attribute_values(":f", AttributeValue::S(name.as_str().to_string()))
            .limit(1)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Query", &e))?;
        found.items().first().map(performer_from_item).transpose()
    }

    /// Lists entries after the key `after` (exclusive) in (avs, operator set id) order,
    /// optionally for one AVS only. One AVS is a Query of its partition; all AVSs is a Scan of
    /// the table sorted here, because a Scan has no order. A registry holds one entry per
    /// operator set, so reading it whole stays small.
    pub async fn list_performers(
        &self,
        after: Option<(AvsAddress, u64)>,
        avs: Option<AvsAddress>,
        limit: usize,
    ) -> Result<PerformerPage, RegistryError> {
        let is_after = |p: &Performer| {
            after.is_none_or(|(a, id)| (p.avs_address.to_string(), u64::from(p.operator_set_id)) > (a.to_string(), id))
        };
        let mut performers = match avs {
            Some(avs) => self.query_avs(avs).await?,
            None => self.scan_all().await?,
        };
        performers.retain(is_after);
        performers.sort_by_key(|p| (p.avs_address.to_string(), p.operator_set_id));
        let next_after = if performers.len() > limit {
            performers.truncate(limit);
            performers
                .last()
                .map(|p| OperatorSet::new(p.avs_address, p.operator_set_id))
        } else {
            None
        };
        Ok(PerformerPage { performers, next_after })
    }

    async fn query_avs(&self, avs: AvsAddress) -> Result<Vec<Performer>, RegistryError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.performers)
                .key_condition_expression("avsAddress = :a")
                .expression_attribute_values(":a", AttributeValue::S(avs.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("Query", &e))?;
            for item in page.items() {
                out.push(performer_from_item(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    async fn scan_all(&self) -> Result<Vec<Performer>, RegistryError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.tables.performers)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("Scan", &e))?;
            for item in page.items() {
                out.push(performer_from_item(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Removes the entry and returns it as it was deleted; its release history is kept.
    pub async fn delete_performer(
        &self,
        set: OperatorSet,
        condition: WriteCondition,
    ) -> Result<Option<Performer>, RegistryError> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.tables.performers)
            .set_key(Some(key(set)))
            .return_values(ReturnValue::AllOld);
        if let WriteCondition::Revision(expected) = condition {
            request = request
                .condition_expression("revision = :expected")
                .expression_attribute_values(":expected", n(expected));
        }
        match request.send().await {
            Ok(deleted) => deleted.attributes().map(performer_from_item).transpose(),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                // Deleting what is not there is "not found", whatever the condition said.
                match self.get_performer(set).await? {
                    None => Ok(None),
                    Some(found) => {
                        check_condition(condition, Some(found.revision))?;
                        // It was at another revision when we tried and is at ours now: let the
                        // caller decide again rather than deleting what it has not seen.
                        Err(RegistryError::Contended { set, attempts: 1 })
                    }
                }
            }
            Err(e) => Err(AwsError::from_sdk("DeleteItem", &e).into()),
        }
    }

    /// Appends to an operator set's release history without touching its entry (failures).
    pub async fn append_release_record(&self, set: OperatorSet, record: ReleaseRecord) -> Result<(), RegistryError> {
        let put = self.history_put(set, &record)?;
        self.client
            .put_item()
            .table_name(put.table_name)
            .set_item(Some(put.item))
            .set_condition_expression(put.condition_expression)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutItem", &e))?;
        Ok(())
    }

    /// The release history of an operator set, newest first.
    pub async fn release_history(&self, set: OperatorSet, limit: usize) -> Result<Vec<ReleaseRecord>, RegistryError> {
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.tables.history)
                .key_condition_expression("operatorSet = :s")
                .expression_attribute_values(":s", AttributeValue::S(history_key(set)))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("Query", &e))?;
            for item in page.items() {
                out.push(record_from_item(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        out.truncate(limit);
        Ok(out)
    }
}

fn check_condition(condition: WriteCondition, found: Option<u64>) -> Result<(), RegistryError> {
    match condition {
        WriteCondition::Revision(expected) if found != Some(expected) => {
            Err(RegistryError::RevisionMismatch { expected, found })
        }
        _ => Ok(()),
    }
}

fn build_error(op: &'static str, error: aws_sdk_dynamodb::error::BuildError) -> RegistryError {
    AwsError::Api {
        op,
        code: "InvalidRequest".into(),
        message: error.to_string(),
    }
    .into()
}

fn ignore_existing<R: std::fmt::Debug>(
    result: Result<
        (),
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::create_table::CreateTableError, R>,
    >,
) -> Result<(), RegistryError> {
    use aws_sdk_dynamodb::operation::create_table::CreateTableError;
    match result {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.as_service_error(), Some(CreateTableError::ResourceInUseException(_))) => Ok(()),
        Err(e) => Err(AwsError::from_sdk("CreateTable", &e).into()),
    }
}
