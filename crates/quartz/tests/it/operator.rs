//! The operator commands on a real anvil fork holding the production ReleaseManager:
//! `release publish`, `status`, `performers ls|get` and `doctor`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quartz_core::registry::{PerformerStatus, PerformerUpdate, ReleaseOutcome};
use quartz_core::{FunctionName, OperatorSet};
use quartz_store::{Store, WriteCondition};
use quartz_testkit::{Anvil, ChildGuard, free_port, require_tool};
use serde_json::Value;

use crate::harness::{quartz, run};

const RM: &str = "0x59c8D715DCa616e032B744a753C017c9f3E16bf4";
const DIGEST_1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const DIGEST_2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
/// anvil's first dev account and its well-known key; it is not the AVS of the sets below.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// An address with no code on the fork.
const EOA: &str = "0x4444444444444444444444444444444444444444";

fn cast(args: &[&str]) -> String {
    require_tool("cast");
    let output = Command::new("cast").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "cast {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn total_releases(rpc: &str, avs: &str, id: u32) -> u64 {
    let out = cast(&[
        "call",
        RM,
        "getTotalReleases((address,uint32))(uint256)",
        &format!("({avs},{id})"),
        "-r",
        rpc,
    ]);
    out.split_whitespace().next().unwrap().parse().unwrap()
}

fn publish(dir: &Path, rpc: &str, avs: &str, id: u32, digest: &str, extra: &[&str]) -> (bool, String, String) {
    let image = format!("127.0.0.1:5000/perf@sha256:{digest}");
    let id = id.to_string();
    let mut args = vec![
        "release",
        "publish",
        "--rpc-url",
        rpc,
        "--release-manager",
        RM,
        "--avs",
        avs,
        "--operator-set-id",
        &id,
        "--image",
        &image,
    ];
    args.extend_from_slice(extra);
    run(&args, dir)
}

#[test]
fn release_publish_puts_releases_on_the_real_release_manager_with_their_ids() {
    let anvil = Anvil::fork();
    let rpc = anvil.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let avs = "0xa0a0000000000000000000000000000000000001";

    // A fresh operator set has no metadata URI: the error says what to pass, and nothing is sent.
    let (ok, _, stderr) = publish(dir.path(), &rpc, avs, 0, DIGEST_1, &["--impersonate"]);
    assert!(!ok);
    assert!(
        stderr.contains("no metadata URI") && stderr.contains("--metadata-uri"),
        "{stderr}"
    );
    assert_eq!(total_releases(&rpc, avs, 0), 0);

    let (ok, stdout, stderr) = publish(
        dir.path(),
        &rpc,
        avs,
        0,
        DIGEST_1,
        &[
            "--impersonate",
            "--metadata-uri",
            "https://quartz.test/avs.json",
            "--json",
        ],
    );
    assert!(ok, "{stderr}");
    let first: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(first["releaseId"], 0, "{first}");
    assert!(first["metadata"]["txHash"].is_string(), "{first}");
    assert_eq!(total_releases(&rpc, avs, 0), 1);
    let metadata = cast(&[
        "call",
        RM,
        "getMetadataURI((address,uint32))(string)",
        &format!("({avs},0)"),
        "-r",
        &rpc,
    ]);
    assert_eq!(metadata, "\"https://quartz.test/avs.json\"");

    // The second release gets the next id; the metadata URI is already there. Table output.
    let (ok, stdout, stderr) = publish(dir.path(), &rpc, avs, 0, DIGEST_2, &["--impersonate"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("release id       1"), "{stdout}");
    assert!(!stdout.contains("metadata tx"), "{stdout}");
    let block: u64 = stdout
        .lines()
        .find(|l| l.starts_with("transaction"))
        .and_then(|l| l.split("(block ").nth(1))
        .and_then(|b| b.trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("no block in {stdout}"));
    assert_eq!(total_releases(&rpc, avs, 0), 2);
    let latest = cast(&[
        "call",
        RM,
        "getLatestRelease((address,uint32))(uint256,((bytes32,string)[],uint32))",
        &format!("({avs},0)"),
        "-r",
        &rpc,
    ]);
    assert!(
        latest.starts_with('1') && latest.contains(&format!("0x{DIGEST_2}")) && latest.contains("127.0.0.1:5000/perf"),
        "{latest}"
    );
    assert!(block > first["blockNumber"].as_u64().unwrap(), "{stdout}");

    // A key that is not the AVS's: the revert is decoded and says what to do.
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{DEV_KEY}\n")).unwrap();
    let key = key.to_str().unwrap();
    let (ok, _, stderr) = publish(dir.path(), &rpc, avs, 0, DIGEST_2, &["--private-key-file", key]);
    assert!(!ok);
    assert!(
        stderr.contains("InvalidPermissions") && stderr.contains("--impersonate"),
        "{stderr}"
    );
    // The same key publishes for its own address's operator sets, metadata first.
    let own = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let (ok, stdout, stderr) = publish(
        dir.path(),
        &rpc,
        own,
        7,
        DIGEST_1,
        &[
            "--private-key-file",
            key,
            "--metadata-uri",
            "https://quartz.test/own.json",
            "--json",
        ],
    );
    assert!(ok, "{stderr}");
    let signed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(signed["releaseId"], 0, "{signed}");
    assert_eq!(signed["from"].as_str().unwrap().to_lowercase(), own.to_lowercase());
    assert_eq!(total_releases(&rpc, own, 7), 1);

    // A deadline in the past is refused by the contract, decoded.
    let (ok, _, stderr) = publish(
        dir.path(),
        &rpc,
        avs,
        0,
        DIGEST_2,
        &["--impersonate", "--upgrade-by", "5"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("InvalidUpgradeByTime") && stderr.contains("--upgrade-by"),
        "{stderr}"
    );
    // A ReleaseManager address without code.
    let (ok, _, stderr) = run(
        &[
            "release",
            "publish",
            "--rpc-url",
            &rpc,
            "--release-manager",
            EOA,
            "--avs",
            avs,
            "--operator-set-id",
            "0",
            "--image",
            &format!("r.io/p@sha256:{DIGEST_1}"),
            "--impersonate",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(
        stderr.contains("no contract at") && stderr.contains("--release-manager"),
        "{stderr}"
    );
    assert_eq!(total_releases(&rpc, avs, 0), 2, "nothing more was published");
}

#[test]
fn release_publish_checks_every_flag_before_calling_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens here: an error naming a flag proves the check came first.
    let rpc = format!("http://127.0.0.1:{}", free_port());
    let good = format!("r.io/p@sha256:{DIGEST_1}");
    let avs = "0xa0a0000000000000000000000000000000000001";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--avs",
                "0x12",
                "--operator-set-id",
                "0",
                "--image",
                &good,
                "--impersonate",
            ],
            "--avs",
        ),
        (
            vec![
                "--avs",
                avs,
                "--operator-set-id",
                "x",
                "--image",
                &good,
                "--impersonate",
            ],
            "--operator-set-id",
        ),
        (
            vec![
                "--avs",
                avs,
                "--operator-set-id",
                "0",
                "--image",
                "r.io/p:latest",
                "--impersonate",
            ],
            "--image",
        ),
        (
            vec![
                "--avs",
                avs,
                "--operator-set-id",
                "0",
                "--image",
                "r.io/p@sha256:abc",
                "--impersonate",
            ],
            "--image",
        ),
        (
            vec![
                "--avs",
                avs,
                "--operator-set-id",
                "0",
                "--image",
                &good,
                "--upgrade-by",
                "soon",
                "--impersonate",
            ],
            "--upgrade-by",
        ),
        (
            vec![
                "--avs",
                avs,
                "--operator-set-id",
                "0",
                "--image",
                &good,
                "--release-manager",
                "0xnope",
                "--impersonate",
            ],
            "--release-manager",
        ),
        (
            vec![
                "--avs",
                avs,
                "--operator-set-id",
                "0",
                "--image",
                &good,
                "--metadata-uri",
                " ",
                "--impersonate",
            ],
            "--metadata-uri",
        ),
        (
            vec!["--avs", avs, "--operator-set-id", "0", "--image", &good],
            "--private-key-file",
        ),
        (
            vec![
                "--avs",
                avs,
                "--operator-set-id",
                "0",
                "--image",
                &good,
                "--private-key-file",
                "/nonexistent/key",
            ],
            "--private-key-file",
        ),
        (vec!["--avs", avs, "--operator-set-id", "0"], "--image"),
    ];
    for (args, flag) in cases {
        let mut all = vec!["release", "publish", "--rpc-url", &rpc];
        all.extend(args.iter().copied());
        let output = quartz()
            .args(&all)
            .env_remove("QUARTZ_PRIVATE_KEY")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{all:?} succeeded");
        assert!(stderr.contains(flag), "{all:?}: {stderr:?} does not name {flag}");
        assert!(
            !stderr.contains("cannot reach"),
            "{all:?} reached for the chain first: {stderr}"
        );
    }
    let (ok, _, stderr) = run(
        &[
            "release",
            "publish",
            "--rpc-url",
            "ftp://x",
            "--avs",
            avs,
            "--operator-set-id",
            "0",
            "--image",
            &good,
            "--impersonate",
        ],
        dir.path(),
    );
    assert!(!ok && stderr.contains("--rpc-url"), "{stderr}");
    // A key that does not parse is refused without echoing it.
    let key = dir.path().join("key");
    std::fs::write(&key, "0xnot-a-secret-key").unwrap();
    let (ok, _, stderr) = run(
        &[
            "release",
            "publish",
            "--rpc-url",
            &rpc,
            "--avs",
            avs,
            "--operator-set-id",
            "0",
            "--image",
            &good,
            "--private-key-file",
            key.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(
        !ok && stderr.contains("not a private key") && !stderr.contains("not-a-secret"),
        "{stderr}"
    );
}

fn set(avs: &str, id: u32) -> OperatorSet {
    OperatorSet::new(avs.parse().unwrap(), id)
}

async fn put(store: &Store, set: OperatorSet, release: u64, version: &str, digest: &str) {
    let image = format!("127.0.0.1:5000/perf@sha256:{digest}").parse().unwrap();
    let update = PerformerUpdate {
        function_name: FunctionName::for_operator_set(&set),
        function_arn: None,
        release_id: Some(release),
        function_version: Some(version.to_string()),
        image_uri: Some(image),
        artifact_digest: Some(format!("sha256:{digest}").parse().unwrap()),
        status: PerformerStatus::Active,
    };
    store
        .put_performer(set, update, WriteCondition::None, ReleaseOutcome::Deployed)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn performers_ls_and_get_show_the_store_with_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let a = "0xa0a0000000000000000000000000000000000001";
    let b = "0xB0B0000000000000000000000000000000000002";
    {
        let store = Store::open_in(&data).unwrap();
        put(&store, set(a, 0), 0, "1", DIGEST_1).await;
        put(&store, set(a, 0), 1, "2", DIGEST_2).await;
        put(&store, set(b, 12), 3, "1", DIGEST_1).await;
    }
    let data_arg = data.to_str().unwrap();

    let (ok, stdout, stderr) = run(&["--data-dir", data_arg, "performers", "ls", "--json"], dir.path());
    assert!(ok, "{stderr}");
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(body["count"], 2, "{body}");
    assert_eq!(body["performers"][0]["avsAddress"], a);
    assert_eq!(body["performers"][0]["releaseId"], 1);
    assert_eq!(body["performers"][0]["functionVersion"], "2");
    assert_eq!(body["performers"][1]["avsAddress"], b.to_lowercase());
    assert_eq!(body["performers"][1]["operatorSetId"], 12);

    let (ok, stdout, _) = run(
        &["--data-dir", data_arg, "performers", "ls", "--avs", b, "--json"],
        dir.path(),
    );
    assert!(ok);
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(body["performers"][0]["operatorSetId"], 12);

    let (ok, stdout, _) = run(&["--data-dir", data_arg, "performers", "ls"], dir.path());
    assert!(ok);
    let header = stdout.lines().next().unwrap();
    for column in ["AVS", "OPSET", "RELEASE", "VERSION", "STATUS", "IMAGE"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        stdout.contains(&format!("127.0.0.1:5000/perf@sha256:{DIGEST_2}")),
        "{stdout}"
    );

    let (ok, stdout, stderr) = run(
        &["--data-dir", data_arg, "performers", "get", a, "0", "--json"],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let body: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(body["releaseId"], 1);
    let releases = body["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 2, "{body}");
    assert_eq!(
        (releases[0]["releaseId"].clone(), releases[1]["releaseId"].clone()),
        (1.into(), 0.into())
    );
    assert_eq!(releases[0]["outcome"], "deployed");

    let (ok, stdout, _) = run(&["--data-dir", data_arg, "performers", "get", a, "0"], dir.path());
    assert!(ok);
    assert!(stdout.contains("OUTCOME") && stdout.contains("deployed"), "{stdout}");

    let (ok, _, stderr) = run(&["--data-dir", data_arg, "performers", "get", a, "5"], dir.path());
    assert!(!ok && stderr.contains("no performer"), "{stderr}");
    let (ok, _, stderr) = run(&["--data-dir", data_arg, "performers", "get", "0x12", "0"], dir.path());
    assert!(!ok && stderr.contains("AVS"), "{stderr}");
    let (ok, _, stderr) = run(
        &["--data-dir", data_arg, "performers", "ls", "--avs", "nope"],
        dir.path(),
    );
    assert!(!ok && stderr.contains("--avs"), "{stderr}");
    // A data dir that is not one is named, and not created.
    let missing = dir.path().join("missing");
    let (ok, _, stderr) = run(
        &["--data-dir", missing.to_str().unwrap(), "performers", "ls"],
        dir.path(),
    );
    assert!(!ok && stderr.contains("--data-dir"), "{stderr}");
    assert!(!missing.exists());
}

fn status_json(data: &str, rpc: &str, dir: &Path) -> Value {
    let (ok, stdout, stderr) = run(&["--data-dir", data, "status", "--rpc-url", rpc, "--json"], dir);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn status_shows_the_head_the_monitor_checkpoint_and_the_lag_while_the_monitor_runs() {
    let anvil = Anvil::fork();
    let rpc = anvil.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let head: u64 = cast(&["block-number", "-r", &rpc]).parse().unwrap();
    let start = (head - 100).to_string();
    let mut command = quartz();
    command
        .args([
            "--data-dir",
            data_arg,
            "monitor",
            "--listen",
            "127.0.0.1:0",
            "--rpc-url",
            &rpc,
        ])
        .args(["--release-manager", RM, "--start-block", &start])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _monitor = ChildGuard::spawn("quartz monitor", command);

    // Read beside the running monitor, as an operator would beside `quartz up`.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if data.join("quartz.db").exists() {
            let status = status_json(data_arg, &rpc, dir.path());
            if status["monitor"].as_array().is_some_and(|m| !m.is_empty()) {
                break status;
            }
        }
        assert!(Instant::now() < deadline, "the monitor wrote no checkpoint within 60 s");
        std::thread::sleep(Duration::from_millis(300));
    };
    let chain_head = status["chain"]["number"].as_u64().unwrap();
    assert_eq!(status["chain"]["chainId"], 31337);
    assert!(chain_head >= head, "{status}");
    let monitor = &status["monitor"][0];
    let checkpoint = monitor["checkpointBlock"].as_u64().unwrap();
    assert!(checkpoint >= head - 100 && checkpoint <= chain_head, "{status}");
    assert_eq!(monitor["headBlock"].as_u64().unwrap(), chain_head, "{status}");
    assert_eq!(monitor["headIsLive"], true, "{status}");
    assert_eq!(
        monitor["lagBlocks"].as_u64().unwrap(),
        chain_head - checkpoint,
        "{status}"
    );
    assert_eq!(
        monitor["releaseManager"].as_str().unwrap().to_lowercase(),
        RM.to_lowercase()
    );
    assert_eq!(monitor["unresolvedLogs"], 0);
    assert_eq!(status["executions"]["inFlight"], 0);
    assert_eq!(status["executions"]["failed"], 0);
    assert_eq!(status["performers"], serde_json::json!([]));

    let (ok, stdout, _) = run(&["--data-dir", data_arg, "status", "--rpc-url", &rpc], dir.path());
    assert!(ok);
    for word in ["CHECKPOINT", "HEAD", "LAG", "UNRESOLVED", "executions", "AVS"] {
        assert!(stdout.contains(word), "{word} missing in\n{stdout}");
    }
    assert!(
        stdout.contains(&checkpoint.to_string()) || stdout.contains("31337"),
        "{stdout}"
    );

    // An unreachable RPC still shows the store's view, with the reason.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let status = status_json(data_arg, &closed, dir.path());
    assert!(
        status["chain"].is_null() && status["chainError"].as_str().unwrap().contains("reach"),
        "{status}"
    );
    assert!(
        status["monitor"][0]["checkpointBlock"].as_u64().unwrap() >= checkpoint,
        "{status}"
    );
    // The head shown then is the monitor's last one, and says so.
    assert_eq!(status["monitor"][0]["headIsLive"], false, "{status}");
    let (_, stdout, _) = run(&["--data-dir", data_arg, "status", "--rpc-url", &closed], dir.path());
    assert!(stdout.contains("* as the monitor saw it at its last poll"), "{stdout}");
}

/// The line of doctor's text report that names `check`.
fn line_of(stdout: &str, check: &str) -> String {
    stdout
        .lines()
        .find(|l| l.contains(check))
        .unwrap_or_else(|| panic!("no {check} line in\n{stdout}"))
        .to_string()
}

fn doctor(args: &[&str], dir: &Path) -> (bool, Value) {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = run(&all, dir);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
    assert_eq!(report["ok"], ok, "{report}");
    (ok, report)
}

fn find<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {report}"))
}

#[test]
fn doctor_passes_on_the_fork_and_names_the_fix_for_a_dead_rpc_or_a_wrong_contract() {
    let anvil = Anvil::fork();
    let rpc = anvil.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();

    let (ok, report) = doctor(
        &["--data-dir", data_arg, "--rpc-url", &rpc, "--release-manager", RM],
        dir.path(),
    );
    assert!(ok, "{report}");
    assert_eq!(find(&report, "rpc")["status"], "ok");
    assert!(
        find(&report, "rpc")["detail"]
            .as_str()
            .unwrap()
            .contains("chain id 31337")
    );
    assert_eq!(find(&report, "release manager")["status"], "ok");
    assert_eq!(find(&report, "sandbox")["status"], "ok", "{report}");
    assert_eq!(find(&report, "data dir")["status"], "ok");
    assert!(!data.exists(), "doctor must not create the data dir");

    let closed = format!("http://127.0.0.1:{}", free_port());
    let (ok, report) = doctor(&["--data-dir", data_arg, "--rpc-url", &closed], dir.path());
    assert!(!ok);
    let rpc_check = find(&report, "rpc");
    assert_eq!(rpc_check["status"], "fail");
    assert!(rpc_check["fix"].as_str().unwrap().contains("--rpc-url"), "{rpc_check}");

    let (ok, report) = doctor(
        &["--data-dir", data_arg, "--rpc-url", &rpc, "--release-manager", EOA],
        dir.path(),
    );
    assert!(!ok);
    let rm = find(&report, "release manager");
    assert_eq!(rm["status"], "fail");
    assert!(rm["detail"].as_str().unwrap().contains("no contract"), "{rm}");
    assert!(rm["fix"].as_str().unwrap().contains("--release-manager"), "{rm}");

    // A registry on loopback is refused unless allowed, with the key to change; a closed Lambda
    // endpoint is named with its flag. The text form puts each fix on its check's line.
    let image = format!("127.0.0.1:{}/p@sha256:{DIGEST_1}", free_port());
    let lambda = format!("http://127.0.0.1:{}", free_port());
    let (ok, stdout, _) = run(
        &[
            "--data-dir",
            data_arg,
            "doctor",
            "--rpc-url",
            &rpc,
            "--release-manager",
            RM,
            "--image",
            &image,
            "--lambda-endpoint",
            &lambda,
        ],
        dir.path(),
    );
    assert!(!ok);
    let line = |name: &str| line_of(&stdout, name);
    assert!(
        line("registry 127.0.0.1").starts_with("FAIL") && line("registry 127.0.0.1").contains("--allow-registry"),
        "{stdout}"
    );
    assert!(
        line("lambda").starts_with("FAIL") && line("lambda").contains("--lambda-endpoint"),
        "{stdout}"
    );
    assert!(line("release manager").starts_with("ok"), "{stdout}");

    // Listed in [factory.registries], as `quartz up` reads it, the registry passes the policy;
    // it still fails, now because nothing answers there.
    let registry = image.split('/').next().unwrap();
    let config = dir.path().join("quartz.toml");
    std::fs::write(
        &config,
        format!("[factory.registries]\nallowed_registries = [\"{registry}\"]\n"),
    )
    .unwrap();
    let (_, stdout, _) = run(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data_arg,
            "doctor",
            "--rpc-url",
            &rpc,
            "--release-manager",
            RM,
            "--image",
            &image,
        ],
        dir.path(),
    );
    let registry_line = line_of(&stdout, "registry 127.0.0.1");
    assert!(
        registry_line.starts_with("FAIL") && registry_line.contains("start the registry"),
        "{stdout}"
    );
}
