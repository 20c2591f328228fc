//! The generated definition on moto's Step Functions: accepted by CreateStateMachine, states
//! matching the local workflow step for step, and StartExecution idempotent by name.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use quartz_aws_stack::state_machine::{self, FAILED_STATE, LAMBDA_TRANSIENT_ERRORS};
use quartz_core::{Artifact, AvsAddress, OperatorSet, Release};
use quartz_factory::workflow::WORKFLOW;
use quartz_testkit::{MOTO_ROLE_ARN, Moto};
use serde_json::Value;

const STEP_FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:quartz-factory-step";

fn client(moto: &Moto) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    Client::from_conf(config)
}

fn sample_release(release_id: u64) -> Release {
    let avs: AvsAddress = "0x5FbDB2315678afecb367f032d93F642f64180aa3".parse().unwrap();
    Release {
        operator_set: OperatorSet::new(avs, 7),
        release_id,
        artifacts: vec![Artifact {
            digest: format!("sha256:{}", "ab".repeat(32)).parse().unwrap(),
            registry_url: "registry.example/performer".into(),
        }],
        upgrade_by_time: 1_900_000_000,
    }
}

async fn create(client: &Client, name: &str) -> String {
    let definition = state_machine::definition(STEP_FUNCTION).unwrap();
    client
        .create_state_machine()
        .name(name)
        .role_arn(MOTO_ROLE_ARN)
        .definition(definition.to_string())
        .send()
        .await
        .expect("CreateStateMachine accepts the generated definition")
        .state_machine_arn
}

#[tokio::test]
async fn the_definition_is_accepted_and_matches_the_local_workflow_step_for_step() {
    let client = client(Moto::shared());
    let arn = create(&client, "quartz-factory-steps").await;
    // Read back what Step Functions stored, not what we sent.
    let stored = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let definition: Value = serde_json::from_str(&stored.definition).unwrap();
    let states = definition["States"].as_object().unwrap();

    let mut at = definition["StartAt"].as_str().unwrap().to_string();
    for (i, step) in WORKFLOW.steps.iter().enumerate() {
        assert_eq!(at, step.id.as_str(), "step {i} in order");
        let state = &states[&at];
        assert_eq!(state["Type"], "Task");
        assert_eq!(state["Parameters"]["FunctionName"], STEP_FUNCTION);
        assert_eq!(state["Parameters"]["Payload"]["step"], step.id.as_str());
        assert_eq!(state["Comment"], step.comment);

        let retry = &state["Retry"][0];
        assert_eq!(
            retry["ErrorEquals"],
            serde_json::json!([step.retry.retry_on.state_machine_error()])
        );
        assert_eq!(
            retry["IntervalSeconds"].as_u64().unwrap() * 1000,
            step.retry.interval_ms
        );
        // Local attempts include the first; Step Functions counts retries.
        assert_eq!(
            retry["MaxAttempts"].as_u64().unwrap() + 1,
            u64::from(step.retry.max_attempts)
        );
        assert_eq!(retry["BackoffRate"].as_f64().unwrap(), step.retry.backoff_rate);
        assert_eq!(
            retry["MaxDelaySeconds"].as_u64().unwrap() * 1000,
            step.retry.max_delay_ms
        );
        // The only other retrier covers Lambda's own transient errors, never Quartz.Final.
        assert_eq!(state["Retry"].as_array().unwrap().len(), 2);
        let transient: Vec<&str> = state["Retry"][1]["ErrorEquals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(transient, LAMBDA_TRANSIENT_ERRORS);

        // Every error ends at the failure state with the context from before the step.
        let catch = state["Catch"].as_array().unwrap();
        assert_eq!(catch.len(), 1);
        assert_eq!(catch[0]["ErrorEquals"], serde_json::json!(["States.ALL"]));
        assert_eq!(catch[0]["Next"], WORKFLOW.on_failure);
        assert_eq!(catch[0]["ResultPath"], "$.error");

        if i + 1 < WORKFLOW.steps.len() {
            at = state["Next"].as_str().unwrap().to_string();
        } else {
            assert_eq!(state["End"], true, "the last step ends the execution");
            assert!(state.get("Next").is_none());
        }
    }
    let failure = &states[WORKFLOW.on_failure];
    assert_eq!(failure["Parameters"]["Payload"]["step"], WORKFLOW.on_failure);
    assert_eq!(failure["Next"], FAILED_STATE);
    assert_eq!(states[FAILED_STATE]["Type"], "Fail");
    assert_eq!(
        states.len(),
        WORKFLOW.steps.len() + 2,
        "no state beyond the steps, on_failure and failed"
    );
}

#[tokio::test]
async fn start_execution_with_the_same_name_is_idempotent() {
    let client = client(Moto::shared());
    let arn = create(&client, "quartz-factory-idempotent").await;
    let release = sample_release(3);
    let name = state_machine::execution_name(&release).unwrap();
    let input = state_machine::execution_input(11155111, release.clone()).unwrap();
    // The same release delivered twice (e.g. a monitor rerun after a crash): same input.
    assert_eq!(input, state_machine::execution_input(11155111, release).unwrap());
    let first = client
        .start_execution()
        .state_machine_arn(&arn)
        .name(&name)
        .input(&input)
        .send()
        .await
        .unwrap();
    let second = client
        .start_execution()
        .state_machine_arn(&arn)
        .name(&name)
        .input(&input)
        .send()
        .await
        .expect("a second StartExecution with the same name and input succeeds");
    assert_eq!(first.execution_arn, second.execution_arn);
    let listed = client.list_executions().state_machine_arn(&arn).send().await.unwrap();
    assert_eq!(listed.executions.len(), 1, "one execution, not two");
    assert_eq!(listed.executions[0].name, name);
    // Step Functions refuses the name with another input: the input must be deterministic.
    let other = client
        .start_execution()
        .state_machine_arn(&arn)
        .name(&name)
        .input(state_machine::execution_input(1, sample_release(3)).unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(
        other
            .as_service_error()
            .is_some_and(|e| e.is_execution_already_exists()),
        "{other:?}"
    );

    // A later release is a different execution.
    let next = sample_release(4);
    client
        .start_execution()
        .state_machine_arn(&arn)
        .name(state_machine::execution_name(&next).unwrap())
        .input(state_machine::execution_input(11155111, next).unwrap())
        .send()
        .await
        .unwrap();
    let listed = client.list_executions().state_machine_arn(&arn).send().await.unwrap();
    assert_eq!(listed.executions.len(), 2);
}
