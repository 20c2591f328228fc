use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use quartz_testkit::{ChildGuard, wait_for_line};

pub fn quartz() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quartz"));
    // Tests pass configuration explicitly; nothing from the developer's shell leaks in.
    for var in [
        "QUARTZ_CONFIG",
        "QUARTZ_DATA_DIR",
        "QUARTZ_REGISTRY_LISTEN",
        "QUARTZ_REGISTRY_TOKEN",
        "QUARTZ_LAMBDA_ENDPOINT",
    ] {
        command.env_remove(var);
    }
    command
}

/// Runs quartz to completion and returns (success, stdout, stderr).
pub fn run(args: &[&str], dir: &Path) -> (bool, String, String) {
    let output = quartz().args(args).current_dir(dir).output().expect("quartz runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// A long-running `quartz registry`, with the base URL it printed.
pub struct RunningRegistry {
    pub guard: ChildGuard,
    pub base: String,
}

pub fn start_registry(data_dir: &Path, lambda_endpoint: &str) -> RunningRegistry {
    let mut command = quartz();
    command
        .args([
            "--data-dir",
            data_dir.to_str().expect("utf-8 path"),
            "registry",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--lambda-endpoint", lambda_endpoint])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut guard = ChildGuard::spawn("quartz registry", command);
    let line = wait_for_line(&mut guard, "listening on http://", Duration::from_secs(30));
    let base = line[line.find("http://").expect("url in line")..].trim().to_string();
    RunningRegistry { guard, base }
}

pub fn token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("registry.token"))
        .expect("token file")
        .trim()
        .to_string()
}
