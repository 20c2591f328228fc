//! How an instance's process is started: under bubblewrap by default.
//!
//! The sandbox sees only the image rootfs, bound read-only as `/`, plus a fresh `/dev`, `/proc`
//! and a private tmpfs `/tmp`. It has its own user, pid, ipc, uts and cgroup namespaces, no
//! capabilities, and an environment built from scratch (`--clearenv`): nothing of the host's
//! filesystem (the data dir included) or of the runtime's environment is visible. The network
//! namespace is shared, because the function must reach its Runtime API on loopback.

use std::path::PathBuf;
use std::process::Stdio;

use quartz_oci::ContainerConfig;

use crate::RuntimeError;
use crate::model::ImageConfig;

#[derive(Debug, Clone)]
pub enum Sandbox {
    Bwrap { program: String },
    Unsandboxed,
}

/// What to run: resolved from the image config and the function's ImageConfig overrides.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub rootfs: PathBuf,
    pub argv: Vec<String>,
    pub workdir: String,
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    /// Checks that bubblewrap exists and can create its namespaces on this machine.
    pub async fn probe(program: &str) -> Result<Self, RuntimeError> {
        let output = tokio::process::Command::new(program)
            .args([
                "--ro-bind",
                "/",
                "/",
                "--unshare-all",
                "--share-net",
                "--die-with-parent",
                "--clearenv",
                "true",
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| RuntimeError::SandboxUnavailable(format!("cannot run {program}: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(RuntimeError::SandboxUnavailable(format!(
                "{program} failed: {}",
                stderr.trim()
            )));
        }
        Ok(Self::Bwrap {
            program: program.to_string(),
        })
    }

    pub fn command(&self, spec: &LaunchSpec) -> tokio::process::Command {
        let mut command = match self {
            Self::Bwrap { program } => {
                let mut command = tokio::process::Command::new(program);
                command
                    .args(["--die-with-parent", "--new-session", "--unshare-all", "--share-net"])
                    .args(["--cap-drop", "ALL", "--clearenv"])
                    .arg("--ro-bind")
                    .arg(&spec.rootfs)
                    .arg("/")
                    .args(["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"])
                    .args(["--chdir", &spec.workdir]);
                for (key, value) in &spec.env {
                    command.args(["--setenv", key, value]);
                }
                command.arg("--").args(&spec.argv);
                command
            }
            Self::Unsandboxed => {
                let program = spec.rootfs.join(spec.argv[0].trim_start_matches('/'));
                let mut command = tokio::process::Command::new(program);
                command
                    .args(&spec.argv[1..])
                    .current_dir(spec.rootfs.join(spec.workdir.trim_start_matches('/')))
                    .env_clear()
                    .envs(spec.env.iter().map(|(k, v)| (k, v)));
                command
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so that killing the instance kills everything it started.
        command.process_group(0);
        command
    }
}

/// The process arguments, following Docker's rules: an overridden entrypoint drops the image's
/// CMD unless a command is given too.
pub fn argv(image: &ContainerConfig, overrides: &ImageConfig) -> Result<(Vec<String>, String), String> {
    let entrypoint = overrides
        .entry_point
        .clone()
        .or_else(|| image.entrypoint.clone())
        .unwrap_or_default();
    let command = match (&overrides.entry_point, &overrides.command) {
        (_, Some(command)) => command.clone(),
        (Some(_), None) => Vec::new(),
        (None, None) => image.cmd.clone().unwrap_or_default(),
    };
    let handler = command.first().cloned().unwrap_or_default();
    let argv: Vec<String> = entrypoint.into_iter().chain(command).collect();
    if argv.is_empty() {
        return Err("the image has neither an entrypoint nor a command; set ImageConfig.EntryPoint".into());
    }
    Ok((argv, handler))
}
