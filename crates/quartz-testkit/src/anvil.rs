use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{free_port, require_tool, workspace_root};

/// The anvil state dump of a Sepolia fork with EigenLayer's core contracts, including the real
/// ReleaseManager (see `chain/README.md`), shipped in the repository so that a clone has it.
/// `QUARTZ_FORK_STATE` overrides the path.
pub fn fork_state_path() -> PathBuf {
    if let Some(path) = std::env::var_os("QUARTZ_FORK_STATE") {
        return PathBuf::from(path);
    }
    workspace_root().join("chain/eigenlayer-sepolia-fork.json")
}

/// A local anvil node on `127.0.0.1`, killed on drop.
pub struct Anvil {
    child: Option<Child>,
    port: u16,
    state: Option<PathBuf>,
}

impl Anvil {
    /// Starts anvil loaded with the EigenLayer fork state (chain id 31337, head 9,350,024).
    pub fn fork() -> Self {
        Self::fork_with(&[])
    }

    /// [`Anvil::fork`] with extra anvil arguments. `--prune-history` mines long ranges of empty
    /// blocks about three times faster, at the cost of historical state (old `eth_call`s and
    /// traces of old transactions).
    pub fn fork_with(extra: &[&str]) -> Self {
        let state = fork_state_path();
        assert!(
            state.exists(),
            "no fork state at {}; set QUARTZ_FORK_STATE",
            state.display()
        );
        let mut args = vec!["--load-state".to_string(), state.display().to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        Self::start(free_port(), &args, None)
    }

    /// Like [`Anvil::fork`], but keeping the chain in `state` (a copy of the fork state made on
    /// first use): [`Anvil::stop`] dumps it, [`Anvil::restart`] loads it again on the same port,
    /// with the same blocks and hashes. For outage tests.
    pub fn fork_persistent(state: &Path) -> Self {
        if !state.exists() {
            std::fs::copy(fork_state_path(), state).expect("copy the fork state");
            let mut perms = std::fs::metadata(state).expect("state file").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(state, perms).expect("make the state copy writable");
        }
        Self::start(
            free_port(),
            &["--state".into(), state.display().to_string()],
            Some(state.to_path_buf()),
        )
    }

    fn start(port: u16, args: &[String], state: Option<PathBuf>) -> Self {
        require_tool("anvil");
        let mut child = Command::new("anvil")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start anvil: {e}; run scripts/setup.sh"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout so that anvil never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Listening on") {
                    let _ = tx.send(());
                }
            }
        });
        let anvil = Self {
            child: Some(child),
            port,
            state,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("anvil exited before listening on port {port}"),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("anvil did not listen on port {port} within 60 s"),
        }
        anvil
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops anvil gracefully (SIGTERM), so that a persistent instance dumps its state.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // Signal the one process by its positive pid: procps-ng 4.0.2's `kill -SIG -PGID`
        // is parsed as `kill(-1, SIG)`, which signals every process on the machine.
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts a stopped persistent instance again, on the same port and from its dumped state.
    pub fn restart(&mut self) {
        self.stop();
        let state = self
            .state
            .clone()
            .expect("restart needs an instance made by fork_persistent");
        let again = Self::start(self.port, &["--state".into(), state.display().to_string()], Some(state));
        *self = again;
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
