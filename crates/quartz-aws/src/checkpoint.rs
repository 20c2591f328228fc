//! The monitor's checkpoint on AWS: a DynamoDB item (block number and hash) that is the truth,
//! written only forward unless a reorg rewinds it explicitly, and the SSM parameter
//! `/quartz/last-processed-block` (String, the block number) that the seed's tooling reads,
//! written after it. A failed SSM write is repaired by repeating the same advance, which the
//! item's condition accepts.

use std::collections::HashMap;
use std::fmt;

use alloy_primitives::B256;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::types::ParameterType;
use quartz_store::now_rfc3339;

use crate::{AwsError, CheckpointError};

pub const CHECKPOINT_PARAMETER: &str = "/quartz/last-processed-block";
/// Partition key `scope` S: `{chainId}/{releaseManager}`, so one table serves several chains.
pub const MONITOR_TABLE: &str = "quartz-monitor-state";

/// Every block up to and including `number` has been processed; `hash` is that block's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    pub number: u64,
    pub hash: B256,
}

impl fmt::Display for BlockRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.number, self.hash)
    }
}

#[derive(Clone)]
pub struct Checkpoint {
    dynamo: aws_sdk_dynamodb::Client,
    ssm: aws_sdk_ssm::Client,
    table: String,
    parameter: String,
    scope: String,
}

impl Checkpoint {
    /// `scope` names the chain and contract, e.g. `11155111/0x…`.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        table: impl Into<String>,
        parameter: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            table: table.into(),
            parameter: parameter.into(),
            scope: scope.into(),
        }
    }

    /// Creates the table (on-demand billing) unless it exists. For moto and development
    /// accounts: in production the stack owns it.
    pub async fn create_table(&self) -> Result<(), CheckpointError> {
        use aws_sdk_dynamodb::operation::create_table::CreateTableError;
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let build = |e: aws_sdk_dynamodb::error::BuildError| AwsError::Api {
            op: "CreateTable",
            code: "InvalidRequest".into(),
            message: e.to_string(),
        };
        let result = self
            .dynamo
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("scope")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("scope")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.as_service_error(), Some(CreateTableError::ResourceInUseException(_))) => Ok(()),
            Err(e) => Err(AwsError::from_sdk("CreateTable", &e).into()),
        }
    }

    pub async fn load(&self) -> Result<Option<BlockRef>, CheckpointError> {
        let found = self
            .dynamo
            .get_item()
            .table_name(&self.table)
            .key("scope", AttributeValue::S(self.scope.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetItem", &e))?;
        found.item().map(block_from_item).transpose()
    }

    /// Moves the checkpoint to `to`: a later block, or the same block with the same hash (a
    /// repeated advance, e.g. after a failed SSM write). Anything else is
    /// [`CheckpointError::NotForward`].
    pub async fn advance(&self, to: BlockRef) -> Result<(), CheckpointError> {
        let condition = "attribute_not_exists(#scope) OR blockNumber < :n OR (blockNumber = :n AND blockHash = :h)";
        let values = HashMap::from([
            (":n".to_string(), AttributeValue::N(to.number.to_string())),
            (":h".to_string(), AttributeValue::S(to.hash.to_string())),
        ]);
        if !self.put_if(to, condition, values).await? {
            let current = self.load().await?.ok_or_else(|| CheckpointError::Corrupt {
                attribute: "scope",
                reason: "the condition failed on a missing item".into(),
            })?;
            return Err(CheckpointError::NotForward { current, attempted: to });
        }
        self.write_parameter(to.number).await
    }

    /// Moves the checkpoint back to `to` after a reorg, only if it is still at `expected` (what
    /// this monitor last wrote), so a rewind never undoes another monitor's progress.
    pub async fn rewind(&self, expected: BlockRef, to: BlockRef) -> Result<(), CheckpointError> {
        if to.number >= expected.number {
            return Err(CheckpointError::NotBackward {
                current: expected.number,
                to: to.number,
            });
        }
        let condition = "attribute_exists(#scope) AND blockNumber = :en AND blockHash = :eh";
        let values = HashMap::from([
            (":en".to_string(), AttributeValue::N(expected.number.to_string())),
            (":eh".to_string(), AttributeValue::S(expected.hash.to_string())),
        ]);
        if !self.put_if(to, condition, values).await? {
            let found = self.load().await?;
            return Err(CheckpointError::Moved { expected, found });
        }
        self.write_parameter(to.number).await
    }

    /// The SSM parameter's value, as the seed's tooling reads it.
    pub async fn parameter(&self) -> Result<Option<u64>, CheckpointError> {
        let found = match self.ssm.get_parameter().name(&self.parameter).send().await {
            Ok(found) => found,
            Err(e) if matches!(e.as_service_error(), Some(GetParameterError::ParameterNotFound(_))) => return Ok(None),
            Err(e) => return Err(AwsError::from_sdk("GetParameter", &e).into()),
        };
        let value = found.parameter().and_then(|p| p.value()).unwrap_or_default();
        value.parse().map(Some).map_err(|_| CheckpointError::Corrupt {
            attribute: "parameter",
            reason: format!("{} holds {value:?}, not a block number", self.parameter),
        })
    }

    /// `Ok(false)` when the condition failed.
    async fn put_if(
        &self,
        to: BlockRef,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> Result<bool, CheckpointError> {
        let result = self
            .dynamo
            .put_item()
            .table_name(&self.table)
            .item("scope", AttributeValue::S(self.scope.clone()))
            .item("blockNumber", AttributeValue::N(to.number.to_string()))
            .item("blockHash", AttributeValue::S(to.hash.to_string()))
            .item("updatedAt", AttributeValue::S(now_rfc3339()))
            .condition_expression(condition)
            .expression_attribute_names("#scope", "scope")
            .set_expression_attribute_values(Some(values))
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

    async fn write_parameter(&self, number: u64) -> Result<(), CheckpointError> {
        self.ssm
            .put_parameter()
            .name(&self.parameter)
            .value(number.to_string())
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutParameter", &e))?;
        Ok(())
    }
}

fn block_from_item(item: &HashMap<String, AttributeValue>) -> Result<BlockRef, CheckpointError> {
    let corrupt = |attribute: &'static str, reason: String| CheckpointError::Corrupt { attribute, reason };
    let number = match item.get("blockNumber") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt("blockNumber", n.clone()))?,
        other => return Err(corrupt("blockNumber", format!("{other:?}"))),
    };
    let hash = match item.get("blockHash") {
        Some(AttributeValue::S(h)) => h.parse().map_err(|_| corrupt("blockHash", h.clone()))?,
        other => return Err(corrupt("blockHash", format!("{other:?}"))),
    };
    Ok(BlockRef { number, hash })
}
