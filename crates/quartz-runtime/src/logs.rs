//! Per-function logs: `<data dir>/runtime/logs/<function>.log`, one line per record, each
//! prefixed with an RFC 3339 timestamp and a tab. Functions' stdout and stderr land here, with
//! Lambda's START/END/REPORT lines around each invocation.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quartz_core::FunctionName;

use crate::RuntimeError;

pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runtime").join("logs")
}

pub fn log_path(data_dir: &Path, function: &FunctionName) -> PathBuf {
    log_dir(data_dir).join(format!("{function}.log"))
}

/// Appends lines to one function's log; also copies them into the capture buffer of the
/// invocation in progress, for `LogType: Tail`.
#[derive(Clone)]
pub struct FunctionLog {
    file: Arc<Mutex<Option<File>>>,
    path: PathBuf,
}

impl FunctionLog {
    pub fn line(&self, text: &str, capture: Option<&Capture>) {
        self.lines(&[text], capture);
    }

    /// Appends several lines with one write (one syscall on the invoke path, and never
    /// interleaved with another instance's lines).
    pub fn lines(&self, texts: &[&str], capture: Option<&Capture>) {
        if let Some(capture) = capture {
            for text in texts {
                capture.push(text);
            }
        }
        let Ok(mut file) = self.file.lock() else { return };
        if file.is_none() {
            *file = OpenOptions::new().create(true).append(true).open(&self.path).ok();
        }
        if let Some(f) = file.as_mut() {
            let stamp = quartz_store::now_rfc3339();
            let mut buf = String::with_capacity(texts.iter().map(|t| t.len() + stamp.len() + 2).sum());
            for text in texts {
                buf.push_str(&stamp);
                buf.push('\t');
                buf.push_str(text);
                buf.push('\n');
            }
            let _ = f.write_all(buf.as_bytes());
        }
    }
}

/// The log lines of one invocation, kept only while it runs.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

/// Lambda returns the last 4 KB of an invocation's log with `LogType: Tail`.
const TAIL_BYTES: usize = 4096;

impl Capture {
    pub fn start(&self) {
        if let Ok(mut buf) = self.0.lock() {
            *buf = Some(Vec::new());
        }
    }

    fn push(&self, text: &str) {
        if let Ok(mut buf) = self.0.lock()
            && let Some(buf) = buf.as_mut()
        {
            buf.extend_from_slice(text.as_bytes());
            buf.push(b'\n');
            if buf.len() > 4 * TAIL_BYTES {
                buf.drain(..buf.len() - TAIL_BYTES);
            }
        }
    }

    /// Stops capturing and returns the last 4 KB.
    pub fn take_tail(&self) -> Vec<u8> {
        let buf = self.0.lock().ok().and_then(|mut b| b.take()).unwrap_or_default();
        buf[buf.len().saturating_sub(TAIL_BYTES)..].to_vec()
    }
}

#[derive(Clone)]
pub struct Logs {
    dir: PathBuf,
    open: Arc<Mutex<HashMap<String, FunctionLog>>>,
}

impl Logs {
    pub fn new(data_dir: &Path) -> Result<Self, RuntimeError> {
        let dir = log_dir(data_dir);
        std::fs::create_dir_all(&dir).map_err(|source| RuntimeError::Io {
            action: "create",
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            dir,
            open: Arc::default(),
        })
    }

    /// The log of `function`, whose name was validated (so it is a safe file name).
    pub fn function(&self, function: &str) -> FunctionLog {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.entry(function.to_string())
            .or_insert_with(|| FunctionLog {
                file: Arc::default(),
                path: self.dir.join(format!("{function}.log")),
            })
            .clone()
    }
}

/// `quartz logs FUNCTION [--follow]`: copies the function's log to `out`; with `follow`, keeps
/// copying new lines until `stop` resolves.
pub async fn copy_logs(
    data_dir: &Path,
    function: &str,
    follow: bool,
    out: &mut (impl Write + Send),
    stop: tokio_util::sync::CancellationToken,
) -> Result<(), RuntimeError> {
    let name: FunctionName = function
        .parse()
        .map_err(|_| RuntimeError::FunctionName(function.to_string()))?;
    let path = log_path(data_dir, &name);
    let io = |source| RuntimeError::Io {
        action: "read",
        path: path.clone(),
        source,
    };
    let mut offset = 0u64;
    loop {
        match File::open(&path) {
            Ok(mut file) => {
                let len = file.metadata().map_err(io)?.len();
                if len < offset {
                    offset = 0; // truncated or replaced: start over
                }
                file.seek(SeekFrom::Start(offset)).map_err(io)?;
                let mut buf = Vec::new();
                file.read_to_end(&mut buf).map_err(io)?;
                offset += buf.len() as u64;
                out.write_all(&buf).map_err(io)?;
                out.flush().map_err(io)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && follow => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RuntimeError::Io {
                    action: "read (no invocation has logged yet)",
                    path: path.clone(),
                    source: e,
                });
            }
            Err(e) => return Err(io(e)),
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}
