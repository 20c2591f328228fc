use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quartz_testkit::{ChildGuard, OciRegistry, performer_binary, require_tool, wait_for_line};
use serde_json::{Value, json};

use crate::harness::{quartz, run};

/// Sends a Lambda REST call with curl; the runtime, like Lambda, needs no real signature here.
fn lambda(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let mut command = Command::new("curl");
    command.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]);
    if let Some(body) = body {
        command.args(["-H", "Content-Type: application/json", "--data", &body.to_string()]);
    }
    let output = command.output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (
        status.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
    )
}

/// What an AVS developer does with Quartz's tools: `quartz package` a static binary into an
/// image and push it; `quartz runtime` runs it as a function; `quartz logs` shows its log.
#[test]
fn package_then_runtime_then_logs() {
    require_tool("bwrap");
    let registry = OciRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let binary = performer_binary();

    let (ok, stdout, stderr) = run(
        &[
            "package",
            "--binary",
            binary.to_str().unwrap(),
            "--push",
            &format!("{}/cli-perf:v1", registry.host()),
            "--insecure",
        ],
        dir.path(),
    );
    assert!(ok, "{stderr}");
    let pinned = stdout.trim().to_string();
    assert!(
        pinned.starts_with(&format!("{}/cli-perf@sha256:", registry.host())),
        "{pinned}"
    );
    assert_eq!(pinned.len(), registry.host().len() + "/cli-perf@sha256:".len() + 64);

    let host = registry.host();
    std::fs::write(
        dir.path().join("quartz.toml"),
        format!("[runtime]\nallowed_registries = [\"{host}\"]\ninsecure_registries = [\"{host}\"]\n"),
    )
    .unwrap();
    let mut command = quartz();
    command
        .current_dir(dir.path())
        .args(["--data-dir", "data", "runtime", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut runtime = ChildGuard::spawn("quartz runtime", command);
    let line = wait_for_line(&mut runtime, "listening on http://", Duration::from_secs(30));
    let base = line[line.find("http://").unwrap()..].trim().to_string();

    let name = "avs-0x8e14db002737f89745bc98f987caeb18d0d47635-opset-0-performer";
    let (status, created) = lambda(
        "POST",
        &format!("{base}/2015-03-31/functions"),
        Some(
            &json!({"FunctionName": name, "PackageType": "Image", "Code": {"ImageUri": pinned},
                     "Role": "arn:aws:iam::000000000000:role/quartz-performer", "Timeout": 30}),
        ),
    );
    assert_eq!(status, 201, "{created}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, function) = lambda("GET", &format!("{base}/2015-03-31/functions/{name}"), None);
        match function["Configuration"]["State"].as_str() {
            Some("Active") => break,
            Some("Failed") => panic!("function failed: {function}"),
            _ => assert!(Instant::now() < deadline, "not Active in time: {function}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let event = json!({"avsAddress": "0x8e14db002737f89745bc98f987caeb18d0d47635", "operatorSetId": 0,
                       "taskId": "t-1", "payload": {"operation": "compute", "params": {"a": 5, "b": 3}}});
    let (status, answer) = lambda(
        "POST",
        &format!("{base}/2015-03-31/functions/{name}/invocations"),
        Some(&event),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["sum"], 8.0, "{answer}");
    assert_eq!(answer["result"]["product"], 15.0, "{answer}");

    let (ok, logs, stderr) = run(&["--data-dir", "data", "logs", name], dir.path());
    assert!(ok, "{stderr}");
    for word in [
        "START RequestId:",
        "END RequestId:",
        "REPORT RequestId:",
        "Billed Duration",
    ] {
        assert!(logs.contains(word), "{word} missing from:\n{logs}");
    }
}

#[test]
fn package_and_logs_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not-elf"), "#!/bin/sh\n").unwrap();
    let (ok, _, stderr) = run(
        &[
            "package",
            "--binary",
            "not-elf",
            "--push",
            "127.0.0.1:1/x",
            "--insecure",
        ],
        dir.path(),
    );
    assert!(!ok);
    assert!(stderr.contains("--binary") && stderr.contains("ELF"), "{stderr}");
    let (ok, _, stderr) = run(
        &["package", "--binary", "missing", "--push", "127.0.0.1:1/x"],
        dir.path(),
    );
    assert!(!ok);
    assert!(stderr.contains("--binary missing"), "{stderr}");
    let (ok, _, stderr) = run(&["logs", "bad name!"], dir.path());
    assert!(!ok);
    assert!(stderr.contains("FUNCTION"), "{stderr}");
}
