//! IAM: one role per control-plane function and for the state machine, each allowed only what
//! its code calls, on named resources; the one performer role (basic execution only) that
//! every performer function runs as; ECR pull for the optional EKS node role.
//!
//! Where AWS accepts no resource but `*`, the statement says so ([`WILDCARD_REQUIRED`]).

use serde_json::{Map, Value, json};

use super::*;

/// Actions that IAM only authorises on `Resource: "*"`, and why.
pub const WILDCARD_REQUIRED: [(&str, &str); 9] = [
    (
        "ecr:GetAuthorizationToken",
        "the registry login token is account-wide; ECR has no resource for it",
    ),
    (
        "logs:CreateLogDelivery",
        "Step Functions log delivery: vended logs take no resource",
    ),
    (
        "logs:GetLogDelivery",
        "Step Functions log delivery: vended logs take no resource",
    ),
    (
        "logs:UpdateLogDelivery",
        "Step Functions log delivery: vended logs take no resource",
    ),
    (
        "logs:DeleteLogDelivery",
        "Step Functions log delivery: vended logs take no resource",
    ),
    (
        "logs:ListLogDeliveries",
        "Step Functions log delivery: vended logs take no resource",
    ),
    (
        "logs:PutResourcePolicy",
        "Step Functions log delivery: vended logs take no resource",
    ),
    (
        "logs:DescribeResourcePolicies",
        "Step Functions log delivery: vended logs take no resource",
    ),
    (
        "logs:DescribeLogGroups",
        "Step Functions log delivery: vended logs take no resource",
    ),
];

const BASIC_EXECUTION: &str = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// What the factory's steps call on performers: deploy, publish, smoke-check, promote.
const FACTORY_LAMBDA_ACTIONS: [&str; 11] = [
    "lambda:CreateFunction",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PublishVersion",
    "lambda:ListVersionsByFunction",
    "lambda:GetAlias",
    "lambda:CreateAlias",
    "lambda:UpdateAlias",
    "lambda:InvokeFunction",
];
/// The mirror's pushes and the repository checks of CreateFunction with an image.
const ECR_PUSH_PULL: [&str; 8] = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:DescribeImages",
];
const ECR_PULL: [&str; 3] = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
];
const TABLE_READ: [&str; 4] = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
];
/// TransactWriteItems is authorised by these per item; it is no IAM action of its own.
const TABLE_WRITE: [&str; 4] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
];

pub(super) fn add(r: &mut Map<String, Value>, config: &SynthConfig) {
    r.insert(
        "PerformerRole".into(),
        role(
            "lambda.amazonaws.com",
            "Every performer function runs as this role: basic execution (logs) only",
            vec![],
        ),
    );
    // A table and its indexes, for the tables given by logical id.
    let tables = |ids: &[&str]| {
        let arns: Vec<Value> = ids
            .iter()
            .flat_map(|id| [get_att(id, "Arn"), sub(&format!("${{{id}.Arn}}/index/*"))])
            .collect();
        Value::Array(arns)
    };
    let read_write = |ids: &[&str]| {
        let mut actions: Vec<&str> = TABLE_READ.to_vec();
        actions.extend(TABLE_WRITE);
        allow(&actions, tables(ids))
    };
    let registry_tables = ["RegistryTable", "HistoryTable"];
    r.insert(
        "MonitorRole".into(),
        role(
            "lambda.amazonaws.com",
            "The release monitor: checkpoint, outbox and known sets, and starting deployments",
            vec![
                allow(
                    &["states:StartExecution", "states:DescribeStateMachine"],
                    json!([reference("FactoryStateMachine")]),
                ),
                allow(
                    &["states:DescribeExecution"],
                    json!([sub(&format!(
                        "arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{STATE_MACHINE}:*"
                    ))]),
                ),
                // The seed's checkpoint parameter /quartz/last-processed-block and its siblings.
                allow(
                    &["ssm:GetParameter", "ssm:PutParameter"],
                    json!([sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/quartz/*")]),
                ),
                read_write(&["MonitorStateTable"]),
                // The known operator sets, to reconcile against the chain.
                allow(&TABLE_READ, tables(&["RegistryTable"])),
            ],
        ),
    );
    r.insert(
        "FactoryStepRole".into(),
        role(
            "lambda.amazonaws.com",
            "The factory's steps: mirror into ECR, deploy and promote performers, write the registry",
            vec![
                allow(&FACTORY_LAMBDA_ACTIONS, json!([performer_functions_arn()])),
                json!({
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": get_att("PerformerRole", "Arn"),
                    "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
                }),
                allow(&ECR_PUSH_PULL, json!([get_att("PerformerRepository", "Arn")])),
                allow(&["ecr:GetAuthorizationToken"], json!("*")),
                read_write(&registry_tables),
            ],
        ),
    );
    r.insert(
        "RegistryApiRole".into(),
        role(
            "lambda.amazonaws.com",
            "The registry API: the table, and each performer's status for functionStatus",
            vec![
                allow(&["lambda:GetFunction"], json!([performer_functions_arn()])),
                read_write(&registry_tables),
            ],
        ),
    );
    let log_delivery: Vec<&str> = WILDCARD_REQUIRED
        .iter()
        .map(|(action, _)| *action)
        .filter(|a| a.starts_with("logs:"))
        .collect();
    r.insert(
        "StateMachineRole".into(),
        role(
            "states.amazonaws.com",
            "The quartz-factory state machine: invoke the factory step handler, deliver its logs",
            vec![
                allow(
                    &["lambda:InvokeFunction"],
                    json!([
                        get_att("FactoryStepFunction", "Arn"),
                        sub("${FactoryStepFunction.Arn}:*")
                    ]),
                ),
                allow(&log_delivery, json!("*")),
            ],
        ),
    );
    if let Some(arn) = &config.eks_node_role_arn {
        // The seed granted pull and push; nodes only pull (the adapter's image and performers').
        r.insert(
            "EksNodeEcrPullPolicy".into(),
            json!({
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "PolicyName": "quartz-ecr-pull",
                    "Roles": [role_name(arn)],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            allow(&ECR_PULL, json!([get_att("PerformerRepository", "Arn")])),
                            allow(&["ecr:GetAuthorizationToken"], json!("*"))
                        ]
                    }
                }
            }),
        );
    }
}

fn allow(actions: &[&str], resource: Value) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": resource})
}

fn role(service: &str, description: &str, statements: Vec<Value>) -> Value {
    let mut properties = json!({
        "Description": description,
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
        },
    });
    if service == "lambda.amazonaws.com" {
        properties["ManagedPolicyArns"] = json!([sub(BASIC_EXECUTION)]);
    }
    if !statements.is_empty() {
        properties["Policies"] = json!([{
            "PolicyName": "quartz",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}
        }]);
    }
    json!({"Type": "AWS::IAM::Role", "Properties": properties})
}
