//! `quartz up` end to end: the README's main job, and a SIGKILL in the middle of a deployment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quartz_testkit::{Anvil, ChildGuard, OciRegistry, performer_binary, workspace_root};
use serde_json::Value;

use crate::harness::quartz;

const RELEASE_MANAGER: &str = "0x59c8D715DCa616e032B744a753C017c9f3E16bf4";
const AVS: &str = "0xb0b0000000000000000000000000000000000002";

/// The README's first command, on binaries cargo already built: it must exit 0 and show both
/// task results and the traffic moving from v1 to v2 with no failed task.
#[test]
fn the_quickstart_takes_a_release_to_a_live_function_and_switches_versions_without_a_failed_task() {
    let output = Command::new("bash")
        .arg(workspace_root().join("scripts/quickstart.sh"))
        .env("QUARTZ_SKIP_SETUP", "1")
        .env("QUARTZ_BIN", env!("CARGO_BIN_EXE_quartz"))
        .env("QUARTZ_PERFORMER_BIN", performer_binary())
        .env_remove("QUARTZ_CONFIG")
        .env_remove("QUARTZ_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "quickstart failed\n{stdout}\n{stderr}");
    for expected in [
        "HTTP task -> version v1: 20 + 22 = 42",
        "gRPC task -> version v1: 6 + 7 = 13, 6 * 7 = 42",
        "HTTP task -> version v2",
        "gRPC task -> version v2",
        "\"versionOrder\": [\"v1\", \"v2\"], \"failed\": 0",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in\n{stdout}");
    }
}

struct Up {
    guard: ChildGuard,
    out: PathBuf,
    registry: String,
}

fn start_up(config: &Path, dir: &Path, run: u32) -> Up {
    let out = dir.join(format!("up-{run}.out"));
    let mut command = quartz();
    command
        .args(["--config", config.to_str().unwrap(), "up"])
        .args(["--registry-listen", "127.0.0.1:0", "--runtime-listen", "127.0.0.1:0"])
        .args(["--adapter-listen", "127.0.0.1:0"])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("up-{run}.err"))).unwrap());
    let guard = ChildGuard::spawn("quartz up", command);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.contains("quartz up: ready") {
            let registry = text
                .lines()
                .find_map(|l| l.strip_prefix("registry listening on "))
                .unwrap()
                .to_string();
            return Up { guard, out, registry };
        }
        let err = std::fs::read_to_string(dir.join(format!("up-{run}.err"))).unwrap_or_default();
        assert!(Instant::now() < deadline, "quartz up did not start:\n{text}\n{err}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(url: &str) -> Option<Value> {
    let out = Command::new("curl").args(["-sf", url]).output().unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn cast(args: &[&str]) -> String {
    let out = Command::new("cast").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "cast {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Publishes `image` (REPO@sha256:HEX) for (AVS, 0) on the real ReleaseManager with cast, an
/// independent client, impersonating the AVS.
fn publish(rpc: &str, image: &str) {
    let (repo, digest) = image.split_once("@sha256:").unwrap();
    cast(&["rpc", "anvil_impersonateAccount", AVS, "--rpc-url", rpc]);
    cast(&["rpc", "anvil_setBalance", AVS, "0x56BC75E2D63100000", "--rpc-url", rpc]);
    let set = format!("({AVS},0)");
    let send = |signature: &str, value: &str| {
        cast(&[
            "send",
            "--unlocked",
            "--from",
            AVS,
            RELEASE_MANAGER,
            signature,
            &set,
            value,
            "--rpc-url",
            rpc,
        ]);
    };
    send(
        "publishMetadataURI((address,uint32),string)",
        "https://example.com/avs.json",
    );
    send(
        "publishRelease((address,uint32),((bytes32,string)[],uint32))",
        &format!("([(0x{digest},{repo})],0)"),
    );
}

fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Killing `quartz up` with SIGKILL in the middle of a deployment, then starting it again, ends
/// with the release live exactly once: one execution, one function version, one history record.
#[test]
fn sigkill_mid_deployment_then_restart_ends_with_the_release_live_exactly_once() {
    let anvil = Anvil::fork();
    let registry = OciRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = {
        let out = quartz()
            .args(["package", "--binary", performer_binary().to_str().unwrap()])
            .args(["--push", &format!("{}/performer:v1", registry.host()), "--insecure"])
            .args(["--env", "PERFORMER_VERSION=v1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let head = cast(&["block-number", "--rpc-url", &anvil.endpoint()]);
    let config = |pause_ms: u64| {
        format!(
            "data_dir = \"{data}\"\n\
             [monitor]\nrpc_urls = [\"{rpc}\"]\nrelease_manager = \"{RELEASE_MANAGER}\"\nstart_block = {head}\n\
             confirmations = 0\npoll_interval_ms = 200\nprogress_bar = false\n\
             watch = [{{ avs = \"{AVS}\", operator_set_id = 0 }}]\n\
             [factory]\npoll_interval_ms = 100\ncrash_test_pause_ms = {pause_ms}\n\
             [factory.function]\ntimeout_secs = 30\nmemory_mb = 256\n\
             [factory.registries]\nallowed_registries = [\"{host}\"]\ninsecure_registries = [\"{host}\"]\n",
            data = dir.path().join("data").display(),
            rpc = anvil.endpoint(),
            host = registry.host(),
        )
    };
    let config_path = dir.path().join("quartz.toml");
    // Every step pauses before and after its work, so that the kill lands inside a step.
    std::fs::write(&config_path, config(1500)).unwrap();
    let mut first = start_up(&config_path, dir.path(), 1);
    publish(&anvil.endpoint(), &image);

    // Wait until the function exists and `publish` has started, then kill in its second pause:
    // after PublishVersion, before the journal records the step.
    let executions = format!("{}/executions", first.registry);
    let id = wait_for("the deployment to reach publish", Duration::from_secs(120), || {
        let list = get(&executions)?;
        let running = list["executions"].as_array()?.first()?.clone();
        (running["currentStep"] == "publish").then(|| running["id"].as_str().unwrap().to_string())
    });
    std::thread::sleep(Duration::from_millis(2000));
    first.guard.signal("KILL");
    assert!(first.guard.wait_timeout(Duration::from_secs(10)).is_some());
    let before = get(&format!("{}/executions/{id}", first.registry));
    assert!(before.is_none(), "quartz up still answers after SIGKILL");
    let killed_log = std::fs::read_to_string(dir.path().join("up-1.err")).unwrap();
    assert!(
        !killed_log.contains("quartz up: stopped"),
        "quartz up stopped cleanly instead of being killed"
    );

    std::fs::write(&config_path, config(0)).unwrap();
    let second = start_up(&config_path, dir.path(), 2);
    let performer = format!("{}/performers/{AVS}/0", second.registry);
    let live = wait_for("release 0 to go live", Duration::from_secs(120), || {
        get(&performer).filter(|p| p["releaseId"] == 0)
    });
    assert_eq!(live["functionVersion"], "1", "{live}");

    let list = get(&format!("{}/executions", second.registry)).unwrap();
    let all = list["executions"].as_array().unwrap();
    assert_eq!(all.len(), 1, "one execution for one release: {list}");
    let detail = get(&format!("{}/executions/{id}", second.registry)).unwrap();
    assert_eq!(detail["status"], "succeeded", "{detail}");
    for step in detail["steps"].as_array().unwrap() {
        assert_eq!(step["status"], "succeeded", "{detail}");
    }
    let history = get(&format!("{performer}/releases")).unwrap();
    let records = history["releases"].as_array().unwrap();
    assert_eq!(records.len(), 1, "one history record: {history}");

    // The Lambda API of the restarted runtime: exactly one published version besides $LATEST.
    let text = std::fs::read_to_string(&second.out).unwrap();
    let lambda = text
        .lines()
        .find_map(|l| l.strip_prefix("runtime listening on "))
        .unwrap();
    let function = live["functionName"].as_str().unwrap();
    let versions = get(&format!("{lambda}/2015-03-31/functions/{function}/versions")).unwrap();
    let published: Vec<&Value> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["Version"] != "$LATEST")
        .collect();
    assert_eq!(published.len(), 1, "one published version: {versions}");
}
