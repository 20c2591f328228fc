//! One instance: a sandboxed process plus the Runtime API endpoint it polls. It serves one
//! invocation at a time; the pool decides which invocation it gets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use bytes::Bytes;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::logs::{Capture, FunctionLog};
use crate::runtime_api::{self, Invocation, Phase, Reply, Shared};
use crate::sandbox::{LaunchSpec, Sandbox};

/// Everything needed to start an instance of one function version.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub function: String,
    pub version: String,
    pub memory: u32,
    pub handler: String,
    pub region: String,
    pub launch: LaunchSpec,
}

#[derive(Debug)]
pub enum StartError {
    /// The function reported an init error through `/init/error`.
    Init {
        body: Bytes,
        error_type: Option<String>,
    },
    /// The process exited before its first `/next`.
    Exit(String),
    Timeout(Duration),
    Spawn(String),
}

#[derive(Debug)]
pub enum Outcome {
    Response(Bytes),
    FunctionError(Bytes),
    TooLarge,
    Timeout,
    Exited(String),
}

pub struct Instance {
    pub id: String,
    pid: Option<i32>,
    invocations: mpsc::Sender<Invocation>,
    exit: watch::Receiver<Option<String>>,
    server_stop: CancellationToken,
    pub capture: Capture,
    /// The last reading of `max_memory_mb` and when it was taken.
    memory: Mutex<Option<(Instant, Option<u64>)>>,
    _shared: Arc<Shared>,
}

/// How long a reading of the process tree's peak memory is reused. Walking `/proc` (two files
/// per process) cost more CPU than the rest of a warm invocation; VmHWM only grows, so a reused
/// reading is at most slightly low, and only for invocations less than this apart.
const MEMORY_READING_TTL: Duration = Duration::from_millis(100);

/// What the invoker passes to the function with the event.
pub struct InvokeArgs {
    pub request_id: String,
    pub payload: Bytes,
    pub invoked_arn: String,
    pub client_context: Option<String>,
    pub timeout: Duration,
}

impl Instance {
    pub async fn start(
        spec: &InstanceSpec,
        sandbox: &Sandbox,
        log: FunctionLog,
        init_timeout: Duration,
    ) -> Result<Self, StartError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (invocations, invocations_rx) = mpsc::channel(1);
        let shared = Shared::new(invocations_rx);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| StartError::Spawn(e.to_string()))?;
        let api_addr = listener.local_addr().map_err(|e| StartError::Spawn(e.to_string()))?;
        let server_stop = CancellationToken::new();
        let app = runtime_api::router(shared.clone());
        let stop = server_stop.clone();
        tokio::spawn(async move {
            let result = axum::serve(listener.tap_io(crate::server::nodelay), app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = result {
                tracing::warn!(target: "quartz::runtime", %error, "runtime API server failed");
            }
        });

        let mut launch = spec.launch.clone();
        launch.env.extend(lambda_env(spec, &id, &api_addr.to_string()));
        let mut child = sandbox.command(&launch).spawn().map_err(|e| {
            server_stop.cancel();
            StartError::Spawn(format!("cannot start {}: {e}", launch.argv.join(" ")))
        })?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        let capture = Capture::default();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(pump(stdout, log.clone(), capture.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(pump(stderr, log.clone(), capture.clone()));
        }
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let description = match child.wait().await {
                Ok(status) => describe_exit(status),
                Err(e) => format!("unknown exit ({e})"),
            };
            let _ = exit_tx.send(Some(description));
        });

        let instance = Self {
            id,
            pid,
            invocations,
            exit,
            server_stop,
            capture,
            memory: Mutex::new(None),
            _shared: shared.clone(),
        };
        let mut phase = shared.phase.subscribe();
        let mut exit = instance.exit.clone();
        let started = tokio::select! {
            biased;
            result = phase.wait_for(|p| *p != Phase::Starting) => match result.map(|p| p.clone()) {
                Ok(Phase::InitFailed { body, error_type }) => Err(StartError::Init { body, error_type }),
                _ => Ok(()),
            },
            result = exit.wait_for(Option::is_some) => {
                let description = result.ok().and_then(|d| d.clone()).unwrap_or_default();
                // An init error is usually followed by the exit; prefer the function's own error.
                match shared.phase.borrow().clone() {
                    Phase::InitFailed { body, error_type } => Err(StartError::Init { body, error_type }),
                    _ => Err(StartError::Exit(description)),
                }
            }
            () = tokio::time::sleep(init_timeout) => Err(StartError::Timeout(init_timeout)),
        };
        if started.is_ok() {
            tracing::debug!(target: "quartz::runtime", function = %spec.function, version = %spec.version, instance = %instance.id, "instance started");
        }
        started.map(|()| instance)
    }

    /// Runs one invocation. The caller must not call this concurrently on one instance.
    pub async fn invoke(&self, args: InvokeArgs) -> Outcome {
        let (reply, reply_rx) = oneshot::channel();
        let deadline_ms = crate::ids::now_epoch_ms() + u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX);
        let invocation = Invocation {
            request_id: args.request_id,
            payload: args.payload,
            deadline_ms,
            invoked_arn: args.invoked_arn,
            trace_id: crate::ids::trace_id(),
            client_context: args.client_context,
            reply,
        };
        if self.invocations.send(invocation).await.is_err() {
            return Outcome::Exited(self.exit_description().await);
        }
        let mut exit = self.exit.clone();
        let reply = tokio::select! {
            biased;
            reply = reply_rx => reply.ok(),
            _ = exit.wait_for(Option::is_some) => None,
            () = tokio::time::sleep(args.timeout) => return Outcome::Timeout,
        };
        match reply {
            Some(Reply::Response(body)) => Outcome::Response(body),
            Some(Reply::Error { body, error_type }) => Outcome::FunctionError(error_document(body, error_type)),
            Some(Reply::TooLarge) => Outcome::TooLarge,
            // The process exited, or asked for another event without answering.
            None => Outcome::Exited(self.exit_description().await),
        }
    }

    async fn exit_description(&self) -> String {
        let mut exit = self.exit.clone();
        let waited = tokio::time::timeout(Duration::from_secs(2), exit.wait_for(Option::is_some)).await;
        let description = match waited {
            Ok(Ok(description)) => description.clone(),
            _ => None,
        };
        description.unwrap_or_else(|| "the runtime stopped answering".into())
    }

    pub fn alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// The largest resident set (VmHWM) over the instance's process tree, in MB, read at most
    /// once per `MEMORY_READING_TTL`.
    pub fn max_memory_mb(&self) -> Option<u64> {
        let mut reading = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, value)) = *reading
            && at.elapsed() < MEMORY_READING_TTL
        {
            return value;
        }
        let value = self.read_max_memory_mb();
        *reading = Some((Instant::now(), value));
        value
    }

    fn read_max_memory_mb(&self) -> Option<u64> {
        let mut pending = vec![self.pid?];
        let mut max_kb = None;
        while let Some(pid) = pending.pop() {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let hwm = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                max_kb = max_kb.max(hwm);
            }
            if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
                pending.extend(children.split_whitespace().filter_map(|c| c.parse::<i32>().ok()));
            }
        }
        max_kb.map(|kb| kb.div_ceil(1024))
    }

    pub fn kill(&self) {
        if let Some(pid) = self.pid
            && self.alive()
        {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        self.server_stop.cancel();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn lambda_env(spec: &InstanceSpec, instance_id: &str, api: &str) -> Vec<(String, String)> {
    let date = crate::ids::last_modified_now()
        .get(..10)
        .unwrap_or_default()
        .replace('-', "/");
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.function.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", spec.version.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.function)),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("{date}/[{}]{instance_id}", spec.version),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_REGION", spec.region.clone()),
        ("AWS_DEFAULT_REGION", spec.region.clone()),
        ("_HANDLER", spec.handler.clone()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_string()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_string()),
        ("TZ", ":UTC".to_string()),
    ];
    if !spec.launch.env.iter().any(|(k, _)| k == "PATH") {
        env.push((
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The error document returned to the invoker: the function's own JSON object when it sent one,
/// else one built from the error type header and the raw body.
fn error_document(body: Bytes, error_type: Option<String>) -> Bytes {
    if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object()) {
        return body;
    }
    let document = serde_json::json!({
        "errorType": error_type.unwrap_or_else(|| "Unhandled".into()),
        "errorMessage": String::from_utf8_lossy(&body),
    });
    Bytes::from(document.to_string())
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => {
            let name = Signal::try_from(signal).map_or_else(|_| signal.to_string(), |s| s.as_str().to_lowercase());
            format!("signal: {}", name.trim_start_matches("sig"))
        }
        _ => "unknown exit".into(),
    }
}

async fn pump(stream: impl AsyncRead + Unpin, log: FunctionLog, capture: Capture) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log.line(&line, Some(&capture));
    }
}
