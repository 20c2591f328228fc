//! The template: cfn-lint finds no error in it, and its IAM is least privilege.

use std::process::Command;

use quartz_aws_stack::template::{
    self, FACTORY_STEP_FUNCTION, MONITOR_FUNCTION, OUTPUTS, PERFORMER_NAME_PREFIX, REGISTRY_API_FUNCTION, SynthConfig,
    WILDCARD_REQUIRED,
};
use quartz_core::{AvsAddress, FunctionName, OperatorSet};
use quartz_testkit::require_tool;
use serde_json::{Value, json};

const EKS_ROLE: &str = "arn:aws:iam::123456789012:role/eks/quartz-nodes";

fn config(eks: Option<&str>) -> SynthConfig {
    SynthConfig::parse(
        "0x59c8D715DCa616e032B744a753C017c9f3E16bf4",
        "https://rpc.example/v1/key",
        eks,
    )
    .unwrap()
}

fn lint(template: &Value) -> Vec<Value> {
    require_tool("cfn-lint");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quartz.json");
    std::fs::write(&path, serde_json::to_string_pretty(template).unwrap()).unwrap();
    let out = Command::new("cfn-lint")
        .arg(&path)
        .args(["--format", "json", "--regions", "us-east-1"])
        .output()
        .expect("cfn-lint runs");
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cfn-lint printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    for f in &findings {
        eprintln!("cfn-lint {}: {} {}", f["Level"], f["Rule"]["Id"], f["Message"]);
    }
    findings
}

#[test]
fn cfn_lint_finds_no_error_with_or_without_the_eks_role() {
    for eks in [None, Some(EKS_ROLE)] {
        let template = template::synthesize(&config(eks)).unwrap();
        let errors: Vec<Value> = lint(&template).into_iter().filter(|f| f["Level"] == "Error").collect();
        assert!(errors.is_empty(), "cfn-lint errors ({eks:?}): {errors:#?}");
    }
}

#[test]
fn cfn_lint_does_catch_a_broken_template() {
    // The check above could pass by cfn-lint never looking: break one property and see it fail.
    let mut template = template::synthesize(&config(None)).unwrap();
    let table = template["Resources"]["RegistryTable"]["Properties"]
        .as_object_mut()
        .unwrap();
    table.remove("KeySchema");
    assert!(
        lint(&template)
            .iter()
            .any(|f| f["Level"] == "Error" && f["Rule"]["Id"] == "E3003")
    );
}

/// Every IAM statement in the template: (where, statement).
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        let props = &resource["Properties"];
        let docs: Vec<&Value> = match resource["Type"].as_str().unwrap() {
            "AWS::IAM::Role" => props["Policies"]
                .as_array()
                .map(|p| p.iter().map(|p| &p["PolicyDocument"]).collect())
                .unwrap_or_default(),
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => vec![&props["PolicyDocument"]],
            "AWS::ECR::Repository" => vec![&props["RepositoryPolicyText"]],
            _ => vec![],
        };
        for doc in docs {
            for statement in doc["Statement"].as_array().unwrap() {
                out.push((id.clone(), statement.clone()));
            }
        }
    }
    out
}

fn list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

#[test]
fn iam_is_least_privilege() {
    let template = template::synthesize(&config(Some(EKS_ROLE))).unwrap();
    let all = statements(&template);
    assert!(all.len() >= 10, "the walk found the policies: {}", all.len());
    let performers = json!({"Fn::Sub": format!(
        "arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{PERFORMER_NAME_PREFIX}*"
    )});
    let control_plane = [
        json!({"Fn::GetAtt": ["FactoryStepFunction", "Arn"]}),
        json!({"Fn::Sub": "${FactoryStepFunction.Arn}:*"}),
    ];
    for (id, statement) in &all {
        assert_eq!(statement["Effect"], "Allow", "{id}: only Allow statements");
        let actions: Vec<String> = list(&statement["Action"])
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let resources = list(&statement["Resource"]);
        for action in &actions {
            assert!(!action.contains('*'), "{id}: wildcard action {action}");
        }
        if resources.iter().any(|r| r == "*") {
            for action in &actions {
                assert!(
                    WILDCARD_REQUIRED.iter().any(|(a, _)| a == action),
                    "{id}: {action} on Resource \"*\" is not one AWS requires"
                );
                assert!(
                    !action.starts_with("lambda:") && !action.starts_with("iam:"),
                    "{id}: {action} on *"
                );
            }
        }
        for action in actions.iter().filter(|a| a.starts_with("lambda:")) {
            for resource in &resources {
                assert!(
                    *resource == performers || control_plane.contains(resource),
                    "{id}: {action} on {resource}, neither a performer nor the factory step handler"
                );
            }
        }
        for action in actions.iter().filter(|a| a.starts_with("iam:")) {
            assert_eq!(action, "iam:PassRole", "{id}");
            assert_eq!(
                resources,
                vec![json!({"Fn::GetAtt": ["PerformerRole", "Arn"]})],
                "{id}: PassRole"
            );
            assert_eq!(
                statement["Condition"]["StringEquals"]["iam:PassedToService"],
                "lambda.amazonaws.com"
            );
        }
        // Resource policies (the ECR repository's) name their principal and scope by source.
        if statement.get("Principal").is_some() {
            assert_eq!(
                statement["Condition"]["StringLike"]["aws:sourceArn"], performers,
                "{id}"
            );
        }
    }
    // The performer role: basic execution only, nothing inline.
    let performer = &template["Resources"]["PerformerRole"]["Properties"];
    assert!(performer.get("Policies").is_none());
    assert_eq!(
        performer["ManagedPolicyArns"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}])
    );
}

#[test]
fn the_performer_pattern_covers_every_performer_and_no_control_plane_function() {
    let avs: AvsAddress = "0x59c8D715DCa616e032B744a753C017c9f3E16bf4".parse().unwrap();
    // Both forms of the naming rule: the seed's (one-digit ids) and the short one.
    for id in [0, 7, 12, u32::MAX] {
        let name = FunctionName::for_operator_set(&OperatorSet::new(avs, id));
        assert!(name.as_str().starts_with(PERFORMER_NAME_PREFIX), "{name}");
    }
    for control in [MONITOR_FUNCTION, FACTORY_STEP_FUNCTION, REGISTRY_API_FUNCTION] {
        assert!(!control.starts_with(PERFORMER_NAME_PREFIX), "{control}");
    }
}

#[test]
fn the_names_are_the_ones_quartz_aws_uses() {
    assert_eq!(template::ECR_REPOSITORY, quartz_aws::ECR_REPOSITORY);
    assert_eq!(template::REGISTRY_TABLE, quartz_aws::REGISTRY_TABLE);
    assert_eq!(template::HISTORY_TABLE, quartz_aws::HISTORY_TABLE);
    assert_eq!(template::MONITOR_TABLE, quartz_aws::MONITOR_TABLE);
    assert_eq!(template::FUNCTION_NAME_INDEX, quartz_aws::FUNCTION_NAME_INDEX);
    // The monitor may write the seed's checkpoint parameter.
    let template = template::synthesize(&config(None)).unwrap();
    let monitor = template["Resources"]["MonitorRole"]["Properties"]["Policies"][0]["PolicyDocument"].to_string();
    let prefix = quartz_aws::CHECKPOINT_PARAMETER.rsplit_once('/').unwrap().0;
    assert!(monitor.contains(&format!("parameter{prefix}/*")), "{monitor}");
}

#[test]
fn the_seeds_outputs_and_the_fixed_names_are_there() {
    let template = template::synthesize(&config(None)).unwrap();
    let outputs = template["Outputs"].as_object().unwrap();
    assert_eq!(outputs.keys().collect::<Vec<_>>().len(), OUTPUTS.len());
    for name in OUTPUTS {
        assert!(outputs.contains_key(name), "output {name}");
    }
    let r = &template["Resources"];
    assert_eq!(
        r["PerformerRepository"]["Properties"]["RepositoryName"],
        "quartz-performer"
    );
    assert_eq!(
        r["RegistryTable"]["Properties"]["TableName"],
        "quartz-performer-registry"
    );
    assert_eq!(
        r["FactoryStateMachine"]["Properties"]["StateMachineName"],
        "quartz-factory"
    );
    // Without an EKS role no policy is attached to one.
    assert!(r.get("EksNodeEcrPullPolicy").is_none());
    let with = template::synthesize(&config(Some(EKS_ROLE))).unwrap();
    assert_eq!(
        with["Resources"]["EksNodeEcrPullPolicy"]["Properties"]["Roles"],
        json!(["quartz-nodes"])
    );
    // Every API method is SigV4-authorised.
    for (id, resource) in r.as_object().unwrap() {
        if resource["Type"] == "AWS::ApiGateway::Method" {
            assert_eq!(resource["Properties"]["AuthorizationType"], "AWS_IAM", "{id}");
        }
    }
}
