use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, free_port, require_tool, wait_for_http};

/// A real OCI registry (Debian's `docker-registry`, distribution v2) on loopback, storing into a
/// temporary directory. Plain HTTP, so clients must mark it insecure.
pub struct OciRegistry {
    _guard: ChildGuard,
    pub addr: SocketAddr,
    root: tempfile::TempDir,
}

impl OciRegistry {
    pub fn start() -> Self {
        require_tool("docker-registry");
        let root = tempfile::tempdir().expect("temp dir for the registry");
        let port = free_port();
        let config = root.path().join("config.yml");
        let yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: quartz-test\n",
            root.path().join("data").display()
        );
        std::fs::write(&config, yaml).expect("write registry config");
        let mut command = Command::new("docker-registry");
        command
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = ChildGuard::spawn("docker-registry", command);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_for_http(addr, Duration::from_secs(30));
        Self {
            _guard: guard,
            addr,
            root,
        }
    }

    /// `127.0.0.1:PORT`, as it appears in image references and allow-lists.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Where the registry keeps a blob's bytes, for tests that tamper with stored content.
    pub fn blob_path(&self, digest_hex: &str) -> PathBuf {
        self.root
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&digest_hex[..2])
            .join(digest_hex)
            .join("data")
    }
}
