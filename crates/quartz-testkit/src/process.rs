use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process killed (with its whole process group) when dropped.
pub struct ChildGuard {
    child: Child,
    name: String,
}

impl ChildGuard {
    /// Spawns `command` in its own process group.
    pub fn spawn(name: &str, mut command: Command) -> Self {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}; run scripts/setup.sh"));
        Self {
            child,
            name: name.to_string(),
        }
    }

    /// Spawns `command` under a watchdog shell that kills it when this test process exits, for
    /// peers kept in a `static` (whose guards are never dropped).
    pub fn spawn_watched(name: &str, command: Command) -> Self {
        let mut args = vec![command.get_program().to_os_string()];
        args.extend(command.get_args().map(|a| a.to_os_string()));
        let mut watched = Command::new("bash");
        watched
            .arg("-c")
            .arg(
                r#"parent=$1; shift; "$@" & child=$!; trap 'kill $child 2>/dev/null' EXIT TERM;
                 while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done"#,
            )
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => watched.env(key, value),
                None => watched.env_remove(key),
            };
        }
        Self::spawn(name, watched)
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM", "KILL") to the process group.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args(["-s", signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal("KILL");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port that was free a moment ago, for peers that cannot report the port they bound.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// Panics with an install hint when `tool` is not on PATH.
pub fn require_tool(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "{tool} is not installed; run scripts/setup.sh"
    );
}

/// Reads the child's stdout until a line containing `needle`, returning that line. The rest of
/// stdout keeps being drained (into `echo` if set) so the child never blocks on a full pipe.
pub fn wait_for_line(guard: &mut ChildGuard, needle: &str, timeout: Duration) -> String {
    let stdout = guard
        .child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("{} was not started with piped stdout", guard.name));
    let (tx, rx) = mpsc::channel();
    let wanted = needle.to_string();
    let name = guard.name.clone();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent && line.contains(&wanted) {
                let _ = tx.send(line.clone());
                sent = true;
            }
            if std::env::var_os("QUARTZ_TEST_ECHO").is_some() {
                eprintln!("{line}");
            }
        }
    });
    rx.recv_timeout(timeout)
        .unwrap_or_else(|_| panic!("{name} did not print {needle:?} within {timeout:?}"))
}

/// Polls until a TCP connect to `addr` succeeds.
pub fn wait_for_http(addr: SocketAddr, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listening on {addr} after {timeout:?}");
}
