//! The CloudFormation template of Quartz on AWS (`quartz synth`): the seed's CDK stack, as
//! plain JSON, without its defects (one performer role instead of one per function, IAM
//! scoped to the performer name pattern, SigV4 on the registry API, logging on the state
//! machine, images protected from the ECR lifecycle while a function uses them).

mod api;
mod iam;
mod resources;

pub use iam::WILDCARD_REQUIRED;

use quartz_core::AvsAddress;
use serde_json::{Map, Value, json};
use url::Url;

use crate::StackError;

/// Fixed names: the seed's, and the ones the documentation and `aws logs tail` use.
pub const ECR_REPOSITORY: &str = "quartz-performer";
pub const REGISTRY_TABLE: &str = "quartz-performer-registry";
pub const FUNCTION_NAME_INDEX: &str = "functionNameIndex";
/// The registry's release history and the monitor's checkpoint (quartz-aws's tables).
pub const HISTORY_TABLE: &str = "quartz-release-history";
pub const MONITOR_TABLE: &str = "quartz-monitor-state";
pub const STATE_MACHINE: &str = "quartz-factory";
pub const STATE_MACHINE_LOG_GROUP: &str = "/aws/states/quartz-factory";
pub const MONITOR_FUNCTION: &str = "quartz-monitor";
pub const FACTORY_STEP_FUNCTION: &str = "quartz-factory-step";
pub const REGISTRY_API_FUNCTION: &str = "quartz-registry-api";
/// Every performer's name starts with this (both forms of `FunctionName::for_operator_set`).
pub const PERFORMER_NAME_PREFIX: &str = "avs-";
/// The ECR lifecycle keeps this many images besides those a function uses.
pub const KEPT_IMAGES: u32 = 10;
/// Tag prefixes the factory gives the image a function's `live` alias and the one before it
/// use; the lifecycle never expires an image carrying one.
pub const PROTECTED_TAG_PREFIXES: [&str; 2] = ["live-", "previous-"];
/// The seed's four outputs, by name.
pub const OUTPUTS: [&str; 4] = [
    "ECRRepositoryURI",
    "RegistryAPIEndpoint",
    "StateMachineArn",
    "MonitorFunctionName",
];
/// Template parameters: where `quartz deploy` uploaded the handlers' zip.
pub const CODE_BUCKET_PARAM: &str = "CodeBucket";
pub const CODE_KEY_PARAM: &str = "CodeKey";

/// What `quartz synth` is given (the seed's CDK context), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    pub release_manager: AvsAddress,
    pub rpc_endpoint: Url,
    pub eks_node_role_arn: Option<String>,
}

impl SynthConfig {
    /// Parses the flags' values; each error names its flag.
    pub fn parse(
        release_manager: &str,
        rpc_endpoint: &str,
        eks_node_role_arn: Option<&str>,
    ) -> Result<Self, StackError> {
        let release_manager = release_manager
            .parse::<AvsAddress>()
            .map_err(|e| StackError::input("--release-manager-address", e.to_string()))?;
        let rpc = Url::parse(rpc_endpoint)
            .map_err(|e| StackError::input("--rpc-endpoint", format!("{rpc_endpoint:?} is not a URL: {e}")))?;
        if !matches!(rpc.scheme(), "http" | "https" | "ws" | "wss") || rpc.host_str().is_none() {
            return Err(StackError::input(
                "--rpc-endpoint",
                format!("{rpc_endpoint:?} must be an http(s) or ws(s) URL with a host"),
            ));
        }
        let eks_node_role_arn = eks_node_role_arn.map(parse_role_arn).transpose()?;
        Ok(Self {
            release_manager,
            rpc_endpoint: rpc,
            eks_node_role_arn,
        })
    }
}

/// `arn:{partition}:iam::{12 digits}:role/{path/}name`; returns it unchanged.
fn parse_role_arn(arn: &str) -> Result<String, StackError> {
    let bad = |why: &str| StackError::input("--eks-node-role-arn", format!("{arn:?} {why}"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad("is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"));
    };
    if prefix != "arn" || !partition.starts_with("aws") || service != "iam" || !region.is_empty() {
        return Err(bad("is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("has no 12-digit account id"));
    }
    let name = resource
        .strip_prefix("role/")
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("");
    let name_ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if name.is_empty() || name.len() > 64 || !name_ok {
        return Err(bad(
            "does not end in a valid role name (role/NAME, at most 64 characters)",
        ));
    }
    Ok(arn.to_string())
}

/// The role's name: the last segment of its ARN (a role policy attaches by name).
pub(crate) fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The template, as a JSON value (print it with `serde_json::to_string_pretty`).
pub fn synthesize(config: &SynthConfig) -> Result<Value, StackError> {
    let mut resources = Map::new();
    resources::add(&mut resources, config)?;
    iam::add(&mut resources, config);
    api::add(&mut resources);
    tag_all(&mut resources);
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Quartz: EigenLayer AVS performers as Lambda functions (generated by quartz synth)",
        "Parameters": {
            CODE_BUCKET_PARAM: {
                "Type": "String",
                "Description": "S3 bucket holding the control-plane handlers' zip (quartz deploy uploads it)"
            },
            CODE_KEY_PARAM: {
                "Type": "String",
                "Description": "S3 key of the handlers' zip (its name carries its sha256, so a new build updates the functions)"
            }
        },
        "Resources": resources,
        "Outputs": {
            "ECRRepositoryURI": {
                "Description": "ECR repository URI for performer images",
                "Value": get_att("PerformerRepository", "RepositoryUri")
            },
            "RegistryAPIEndpoint": {
                "Description": "API endpoint for performer registry (SigV4, service execute-api)",
                "Value": sub("https://${RegistryApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod/")
            },
            "StateMachineArn": {
                "Description": "Step Functions state machine ARN",
                "Value": reference("FactoryStateMachine")
            },
            "MonitorFunctionName": {
                "Description": "Release monitor Lambda function name",
                "Value": reference("MonitorFunction")
            }
        }
    }))
}

/// The seed's stack tags (`ManagedBy` names quartz instead of cdk), on every resource type
/// that takes tags as a list of Key/Value.
fn tag_all(resources: &mut Map<String, Value>) {
    const TAGGABLE: [&str; 8] = [
        "AWS::ECR::Repository",
        "AWS::DynamoDB::Table",
        "AWS::Logs::LogGroup",
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::StepFunctions::StateMachine",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Stage",
    ];
    for resource in resources.values_mut() {
        let taggable = resource["Type"].as_str().is_some_and(|t| TAGGABLE.contains(&t));
        if taggable && let Some(props) = resource.get_mut("Properties").and_then(Value::as_object_mut) {
            props.insert(
                "Tags".into(),
                json!([{"Key": "Component", "Value": "quartz"}, {"Key": "ManagedBy", "Value": "quartz"}]),
            );
        }
    }
}

pub(crate) fn sub(s: &str) -> Value {
    json!({ "Fn::Sub": s })
}

pub(crate) fn get_att(resource: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attribute] })
}

pub(crate) fn reference(name: &str) -> Value {
    json!({ "Ref": name })
}

/// `arn:…:function:avs-*`: every performer, its versions and aliases.
pub(crate) fn performer_functions_arn() -> Value {
    sub(&format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{PERFORMER_NAME_PREFIX}*"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_flag_is_named() {
        let ok_rpc = "https://rpc.example";
        let ok_rm = "0x1234567890123456789012345678901234567890";
        let err = SynthConfig::parse("0x12", ok_rpc, None).unwrap_err().to_string();
        assert!(err.starts_with("--release-manager-address"), "{err}");
        for rpc in ["not a url", "ftp://x.example", "file:///etc/passwd"] {
            let err = SynthConfig::parse(ok_rm, rpc, None).unwrap_err().to_string();
            assert!(err.starts_with("--rpc-endpoint"), "{err}");
        }
        for arn in [
            "role",
            "arn:aws:iam::12:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:user/x",
        ] {
            let err = SynthConfig::parse(ok_rm, ok_rpc, Some(arn)).unwrap_err().to_string();
            assert!(err.starts_with("--eks-node-role-arn"), "{arn}: {err}");
        }
        let ok = SynthConfig::parse(ok_rm, ok_rpc, Some("arn:aws:iam::123456789012:role/eks/nodes")).unwrap();
        assert_eq!(role_name(ok.eks_node_role_arn.as_deref().unwrap()), "nodes");
    }
}
