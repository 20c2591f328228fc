//! The data and compute resources: ECR, DynamoDB, the control-plane functions, the schedule and
//! the state machine with its log group.

use serde_json::{Map, Value, json};

use super::*;
use crate::state_machine;

pub(super) fn add(r: &mut Map<String, Value>, config: &SynthConfig) -> Result<(), StackError> {
    r.insert("PerformerRepository".into(), repository());
    r.insert("RegistryTable".into(), table());
    r.insert(
        "HistoryTable".into(),
        simple_table(
            HISTORY_TABLE,
            &[("operatorSet", "S", "HASH"), ("recordKey", "S", "RANGE")],
        ),
    );
    r.insert(
        "MonitorStateTable".into(),
        simple_table(MONITOR_TABLE, &[("scope", "S", "HASH")]),
    );
    let common = json!({
        "REGISTRY_TABLE": reference("RegistryTable"),
        "HISTORY_TABLE": reference("HistoryTable"),
        "MONITOR_TABLE": reference("MonitorStateTable"),
        "PERFORMER_ROLE_ARN": get_att("PerformerRole", "Arn"),
        "ECR_REPOSITORY_URI": get_att("PerformerRepository", "RepositoryUri"),
    });
    let env = |handler: &str, extra: Value| {
        let mut vars = common.clone();
        vars["QUARTZ_HANDLER"] = json!(handler);
        if let (Some(vars), Some(extra)) = (vars.as_object_mut(), extra.as_object()) {
            vars.extend(extra.clone());
        }
        vars
    };
    r.insert(
        "MonitorFunction".into(),
        function(
            MONITOR_FUNCTION,
            "MonitorRole",
            300,
            512,
            env(
                "monitor",
                json!({
                    "RELEASE_MANAGER_ADDRESS": config.release_manager.to_string(),
                    "RPC_ENDPOINT": config.rpc_endpoint.as_str(),
                    "STATE_MACHINE_ARN": reference("FactoryStateMachine"),
                }),
            ),
        ),
    );
    // The smoke check invokes the new version with the performer's own timeout (up to 900 s).
    r.insert(
        "FactoryStepFunction".into(),
        function(
            FACTORY_STEP_FUNCTION,
            "FactoryStepRole",
            900,
            1024,
            env("factory-step", json!({})),
        ),
    );
    r.insert(
        "RegistryApiFunction".into(),
        function(
            REGISTRY_API_FUNCTION,
            "RegistryApiRole",
            30,
            256,
            env("registry-api", json!({})),
        ),
    );
    // The seed's every five minutes; the monitor is level-triggered, so a missed run only delays.
    r.insert(
        "MonitorSchedule".into(),
        json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "Run the release monitor every 5 minutes",
                "ScheduleExpression": "rate(5 minutes)",
                "State": "ENABLED",
                "Targets": [{"Arn": get_att("MonitorFunction", "Arn"), "Id": "monitor"}]
            }
        }),
    );
    r.insert(
        "MonitorSchedulePermission".into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": reference("MonitorFunction"),
                "Principal": "events.amazonaws.com",
                "SourceArn": get_att("MonitorSchedule", "Arn")
            }
        }),
    );
    r.insert(
        "FactoryLogGroup".into(),
        json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": STATE_MACHINE_LOG_GROUP, "RetentionInDays": 30}
        }),
    );
    r.insert(
        "FactoryStateMachine".into(),
        json!({
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": STATE_MACHINE,
                "StateMachineType": "STANDARD",
                "RoleArn": get_att("StateMachineRole", "Arn"),
                "Definition": state_machine::definition("${FactoryStepFunctionArn}")?,
                "DefinitionSubstitutions": {"FactoryStepFunctionArn": get_att("FactoryStepFunction", "Arn")},
                "LoggingConfiguration": {
                    "Level": "ALL",
                    // Contexts carry no secrets, but executions' data stays in the history only.
                    "IncludeExecutionData": false,
                    "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": get_att("FactoryLogGroup", "Arn")}}]
                }
            }
        }),
    );
    Ok(())
}

/// The performer repository. ECR's lifecycle cannot see which images Lambda uses, so the
/// factory marks them: the image behind a function's `live` alias carries the tag
/// `live-{function}` and the one before it `previous-{function}` (a tag names one image, so
/// moving it unmarks the older one). Rules with a higher priority protect any image matching
/// those prefixes from the last rule, which expires all but the newest 10 of the rest.
fn repository() -> Value {
    let mut rules: Vec<Value> = PROTECTED_TAG_PREFIXES
        .iter()
        .enumerate()
        .map(|(i, prefix)| {
            json!({
                "rulePriority": i + 1,
                "description": format!("never expire an image a function's alias uses ({prefix}*)"),
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [prefix],
                    "countType": "imageCountMoreThan",
                    "countNumber": 100_000
                },
                "action": {"type": "expire"}
            })
        })
        .collect();
    rules.push(json!({
        "rulePriority": PROTECTED_TAG_PREFIXES.len() + 1,
        "description": format!("keep the {KEPT_IMAGES} most recent of the other images"),
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEPT_IMAGES},
        "action": {"type": "expire"}
    }));
    let policy = json!({ "rules": rules }).to_string();
    json!({
        "Type": "AWS::ECR::Repository",
        // Images of live functions must outlive a deleted stack; delete the repository by hand.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "RepositoryName": ECR_REPOSITORY,
            "ImageScanningConfiguration": {"ScanOnPush": true},
            "LifecyclePolicy": {"LifecyclePolicyText": policy},
            // Lambda pulls a performer's image when it creates or updates the function.
            "RepositoryPolicyText": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "LambdaPullForPerformers",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Condition": {"StringLike": {"aws:sourceArn": performer_functions_arn()}}
                }]
            }
        }
    })
}

fn table() -> Value {
    json!({
        "Type": "AWS::DynamoDB::Table",
        // The registry outlives the stack; delete the table by hand.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": REGISTRY_TABLE,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": "avsAddress", "AttributeType": "S"},
                {"AttributeName": "operatorSetId", "AttributeType": "N"},
                {"AttributeName": "functionName", "AttributeType": "S"}
            ],
            "KeySchema": [
                {"AttributeName": "avsAddress", "KeyType": "HASH"},
                {"AttributeName": "operatorSetId", "KeyType": "RANGE"}
            ],
            "GlobalSecondaryIndexes": [{
                "IndexName": FUNCTION_NAME_INDEX,
                "KeySchema": [{"AttributeName": "functionName", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"}
            }],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}
        }
    })
}

/// A table keyed by `(name, type, HASH|RANGE)` attributes, retained like the registry.
fn simple_table(name: &str, keys: &[(&str, &str, &str)]) -> Value {
    json!({
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": keys.iter().map(|(n, t, _)| json!({"AttributeName": n, "AttributeType": t})).collect::<Vec<_>>(),
            "KeySchema": keys.iter().map(|(n, _, k)| json!({"AttributeName": n, "KeyType": k})).collect::<Vec<_>>(),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}
        }
    })
}

/// A control-plane function: the one handlers zip (`bootstrap`), told which handler it is.
fn function(name: &str, role: &str, timeout: u32, memory: u32, env: Value) -> Value {
    json!({
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": ["x86_64"],
            "Code": {"S3Bucket": reference(CODE_BUCKET_PARAM), "S3Key": reference(CODE_KEY_PARAM)},
            "Role": get_att(role, "Arn"),
            "Timeout": timeout,
            "MemorySize": memory,
            "Environment": {"Variables": env}
        }
    })
}
