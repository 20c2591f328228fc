//! The monitor handler on anvil with the EigenLayer fork state (the production ReleaseManager)
//! and moto (Step Functions, DynamoDB, SSM): releases published on chain become one execution
//! each with the deterministic name, the checkpoint moves only after, a rerun starts nothing
//! new, and reconciliation starts a release the logs did not show.

use std::time::{Duration, Instant};

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use quartz_aws::{BlockRef, Checkpoint, DynamoRegistry, RegistryTables};
use quartz_aws_stack::state_machine;
use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome};
use quartz_core::{AvsAddress, FunctionName, OperatorSet, PinnedImage, Release};
use quartz_lambda_handlers::MonitorHandler;
use quartz_lambda_handlers::monitor::checkpoint_scope;
use quartz_lambda_handlers::settings::MonitorSettings;
use quartz_monitor::contract::SEPOLIA_RELEASE_MANAGER as RM;
use quartz_monitor::publish::{PublishRequest, Publisher, Signer};
use quartz_monitor::{Confirmations, Discover};
use quartz_store::WriteCondition;
use quartz_testkit::{Anvil, MOTO_ROLE_ARN, Moto};

use crate::sdk;
use quartz_testkit::unique_name;

const STEP_FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:quartz-factory-step";

fn sfn(moto: &Moto) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// The factory's state machine on moto, from the generated definition; its ARN.
async fn create_state_machine(sfn: &aws_sdk_sfn::Client, name: &str) -> String {
    sfn.create_state_machine()
        .name(unique_name(name))
        .role_arn(MOTO_ROLE_ARN)
        .definition(state_machine::definition(STEP_FUNCTION).unwrap().to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn
}

/// The monitor handler's tables and checkpoint on moto, under names no other test uses.
struct Stores {
    tables: RegistryTables,
    registry: DynamoRegistry,
    checkpoint: Checkpoint,
    monitor_table: String,
    parameter: String,
}

impl Stores {
    async fn create(sdk: &aws_config::SdkConfig, prefix: &str) -> Self {
        let tables = RegistryTables {
            performers: unique_name(&format!("{prefix}-performers")),
            history: unique_name(&format!("{prefix}-history")),
        };
        let registry = DynamoRegistry::new(sdk, tables.clone());
        registry.create_tables().await.unwrap();
        let monitor_table = unique_name(&format!("{prefix}-state"));
        let parameter = format!("/quartz/{}/last-processed-block", unique_name(prefix));
        let checkpoint = Checkpoint::new(sdk, &monitor_table, &parameter, checkpoint_scope(31337, RM));
        checkpoint.create_table().await.unwrap();
        Self {
            tables,
            registry,
            checkpoint,
            monitor_table,
            parameter,
        }
    }

    /// Settings over these stores: every set discovered, no confirmations, from `start_block`.
    fn settings(&self, url: &str, state_machine_arn: &str, start_block: u64) -> MonitorSettings {
        MonitorSettings {
            rpc_urls: vec![url.to_string()],
            release_manager: RM,
            state_machine_arn: state_machine_arn.to_string(),
            monitor_table: self.monitor_table.clone(),
            checkpoint_parameter: self.parameter.clone(),
            confirmations: Confirmations::Blocks(0),
            start_block: Some(start_block),
            start_window: 0,
            discover: Discover::All,
            watch: Vec::new(),
            max_blocks_per_run: 100_000,
            chunk_blocks: 2_000,
            rpc_timeout: Duration::from_secs(10),
        }
    }
}

async fn publish(publisher: &Publisher, set: OperatorSet, digit: char) -> Release {
    let image: PinnedImage = format!("registry.example/performer@sha256:{}", digit.to_string().repeat(64))
        .parse()
        .unwrap();
    let published = publisher
        .publish(&PublishRequest {
            set,
            images: vec![image.clone()],
            upgrade_by_time: 4_000_000_000,
            metadata_uri: Some("https://quartz.test/metadata".into()),
        })
        .await
        .unwrap();
    Release {
        operator_set: set,
        release_id: published.release_id,
        artifacts: vec![quartz_core::Artifact {
            digest: image.digest,
            registry_url: image.repository.to_string(),
        }],
        upgrade_by_time: 4_000_000_000,
    }
}

async fn executions(sfn: &aws_sdk_sfn::Client, arn: &str) -> Vec<String> {
    let listed = sfn.list_executions().state_machine_arn(arn).send().await.unwrap();
    let mut names: Vec<String> = listed.executions.into_iter().map(|e| e.name).collect();
    names.sort();
    names
}

/// One JSON-RPC call to anvil; its `result`.
fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let output = std::process::Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Content-Type: application/json",
            "--data",
            &body.to_string(),
            url,
        ])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(value.get("error").is_none(), "{method}: {value}");
    value["result"].clone()
}

async fn head(url: &str) -> u64 {
    let result = rpc(url, "eth_blockNumber", serde_json::json!([]));
    u64::from_str_radix(result.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test]
async fn published_releases_start_one_execution_each_and_the_checkpoint_follows() {
    let anvil = Anvil::fork();
    let url = anvil.endpoint();
    let moto = Moto::shared();
    let sdk = sdk(moto).await;
    let sfn = sfn(moto);
    let arn = create_state_machine(&sfn, "quartz-factory").await;
    let stores = Stores::create(&sdk, "monitor").await;
    let (registry, checkpoint) = (&stores.registry, &stores.checkpoint);

    let publisher = Publisher::connect(&url, Some(RM), Signer::Impersonate).await.unwrap();
    let avs: AvsAddress = "0x000000000000000000000000000000000000a11c".parse().unwrap();
    // Set 1's release comes before the monitor's start block: only reconciliation can find it,
    // because the registry knows the set (an operator registered it with no release yet).
    let before = OperatorSet::new(avs, 1);
    let missed = publish(&publisher, before, 'b').await;
    registry
        .put_performer(
            before,
            PerformerUpdate {
                function_name: FunctionName::for_operator_set(&before),
                function_arn: None,
                release_id: None,
                function_version: None,
                image_uri: None,
                artifact_digest: None,
                status: PerformerStatus::Active,
            },
            WriteCondition::None,
            ReleaseOutcome::Registered,
        )
        .await
        .unwrap();
    let start = head(&url).await + 1;
    // Set 0's release is in the logs from the start block on; its set is found from the
    // transaction (discovery), as the embedded monitor does.
    let set = OperatorSet::new(avs, 0);
    let logged = publish(&publisher, set, 'a').await;
    let published_at = head(&url).await;

    let monitor = MonitorHandler::new(stores.settings(&url, &arn, start), &sdk, stores.tables.clone()).unwrap();
    let deadline = || Instant::now() + Duration::from_secs(120);

    let run = monitor.run(deadline()).await.unwrap();
    let logged_name = state_machine::execution_name(&logged).unwrap();
    let missed_name = state_machine::execution_name(&missed).unwrap();
    assert_eq!(run.chain_id, 31337);
    assert_eq!(run.from_block, start - 1);
    assert_eq!(run.to_block, published_at);
    assert!(run.caught_up);
    assert_eq!(run.logs, 1, "{run:?}");
    assert_eq!(
        run.executions,
        vec![logged_name.clone(), missed_name.clone()],
        "logs first, then reconciliation"
    );
    let mut expected = vec![logged_name.clone(), missed_name.clone()];
    expected.sort();
    assert_eq!(
        executions(&sfn, &arn).await,
        expected,
        "exactly one execution per release"
    );
    // The input is the factory's initial context for the release, as the state machine expects.
    let described = sfn
        .describe_execution()
        .execution_arn(format!(
            "{}:{logged_name}",
            arn.replace(":stateMachine:", ":execution:")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.input.as_deref(),
        Some(state_machine::execution_input(31337, logged.clone()).unwrap().as_str())
    );
    let cp = checkpoint.load().await.unwrap().unwrap();
    assert_eq!(cp.number, published_at);
    assert_eq!(checkpoint.parameter().await.unwrap(), Some(published_at), "SSM follows");

    // Nothing new on chain: the rerun reads no log and Step Functions has no new execution.
    let rerun = monitor.run(deadline()).await.unwrap();
    assert_eq!(rerun.from_block, published_at);
    assert_eq!(rerun.logs, 0);
    assert_eq!(executions(&sfn, &arn).await, expected, "a rerun starts nothing new");

    // A later release continues from the checkpoint.
    let next = publish(&publisher, set, 'c').await;
    let third = monitor.run(deadline()).await.unwrap();
    assert_eq!(third.from_block, published_at);
    assert_eq!(third.logs, 1);
    let next_name = state_machine::execution_name(&next).unwrap();
    assert!(third.executions.contains(&next_name), "{third:?}");
    expected.push(next_name);
    expected.sort();
    assert_eq!(executions(&sfn, &arn).await, expected);
    assert_eq!(
        checkpoint.load().await.unwrap().map(|c: BlockRef| c.number),
        Some(head(&url).await)
    );
}

#[tokio::test]
async fn a_run_is_bounded_by_its_deadline_and_its_block_budget_and_the_next_run_continues() {
    let anvil = Anvil::fork();
    let url = anvil.endpoint();
    let moto = Moto::shared();
    let sdk = sdk(moto).await;
    let stores = Stores::create(&sdk, "late").await;
    let checkpoint = &stores.checkpoint;
    let head = head(&url).await;
    let start = head - 9;
    let settings = MonitorSettings {
        // No set is watched or registered: whatever the fork's last blocks hold is ignored.
        discover: Discover::Watched,
        max_blocks_per_run: 4,
        chunk_blocks: 2,
        ..stores.settings(&url, "arn:aws:states:us-east-1:123456789012:stateMachine:unused", start)
    };
    let monitor = MonitorHandler::new(settings, &sdk, stores.tables.clone()).unwrap();
    // Already past the deadline: the fresh checkpoint is written, no chunk is read.
    let run = monitor.run(Instant::now()).await.unwrap();
    assert_eq!((run.from_block, run.to_block), (start - 1, start - 1));
    assert!(!run.caught_up);
    assert_eq!(checkpoint.load().await.unwrap().unwrap().number, start - 1);
    // Then four blocks a run (in chunks of two), each run going on from the last.
    let mut ends = Vec::new();
    loop {
        let run = monitor.run(Instant::now() + Duration::from_secs(120)).await.unwrap();
        assert_eq!(checkpoint.load().await.unwrap().unwrap().number, run.to_block);
        ends.push(run.to_block);
        if run.caught_up {
            break;
        }
        assert!(ends.len() < 5, "no progress: {ends:?}");
    }
    assert_eq!(ends, vec![start + 3, start + 7, head]);
}

#[tokio::test]
async fn a_reorg_under_the_checkpoint_rewinds_it_and_the_scan_goes_on_on_the_new_chain() {
    let anvil = Anvil::fork();
    let url = anvil.endpoint();
    let moto = Moto::shared();
    let sdk = sdk(moto).await;
    let sfn = sfn(moto);
    let arn = create_state_machine(&sfn, "quartz-factory-reorg").await;
    let stores = Stores::create(&sdk, "reorg").await;
    let checkpoint = &stores.checkpoint;
    let fork_head = head(&url).await;
    let settings = stores.settings(&url, &arn, fork_head + 1);
    let monitor = MonitorHandler::new(settings, &sdk, stores.tables.clone()).unwrap();
    let deadline = || Instant::now() + Duration::from_secs(120);
    let snapshot = rpc(&url, "evm_snapshot", serde_json::json!([]));
    let publisher = Publisher::connect(&url, Some(RM), Signer::Impersonate).await.unwrap();
    let avs: AvsAddress = "0x000000000000000000000000000000000000a11d".parse().unwrap();
    publish(&publisher, OperatorSet::new(avs, 0), 'd').await;
    let first = monitor.run(deadline()).await.unwrap();
    assert_eq!(first.executions.len(), 1, "{first:?}");
    let old_checkpoint = checkpoint.load().await.unwrap().unwrap();

    // The blocks holding the release are replaced by a longer chain without it.
    assert_eq!(
        rpc(&url, "evm_revert", serde_json::json!([snapshot])),
        serde_json::json!(true)
    );
    rpc(&url, "anvil_mine", serde_json::json!(["0x5"]));
    let new_head = head(&url).await;
    assert!(new_head > old_checkpoint.number);

    let after = monitor.run(deadline()).await.unwrap();
    assert!(after.rewound, "{after:?}");
    assert_eq!(
        after.from_block,
        old_checkpoint.number - quartz_lambda_handlers::monitor::REWIND_BLOCKS
    );
    assert_eq!(after.to_block, new_head);
    assert_eq!(after.logs, 0, "the release's log is gone with its block");
    let now = checkpoint.load().await.unwrap().unwrap();
    assert_eq!(now.number, new_head);
    assert_ne!(now.hash, old_checkpoint.hash);
    assert_eq!(executions(&sfn, &arn).await.len(), 1, "nothing new started");
}
