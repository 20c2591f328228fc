use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::{ChildGuard, free_port, require_tool, wait_for_http};

/// moto's server mode: the AWS API (Lambda control calls, DynamoDB, SSM, Step Functions, ECR,
/// IAM) on loopback. Credentials and region can be anything.
pub struct Moto {
    _guard: ChildGuard,
    pub addr: SocketAddr,
}

/// The role moto insists a function has; created by [`Moto::start`].
pub const MOTO_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/quartz-performer";

impl Moto {
    pub fn start() -> Self {
        require_tool("moto_server");
        let port = free_port();
        let mut command = Command::new("moto_server");
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = ChildGuard::spawn_watched("moto_server", command);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_for_http(addr, Duration::from_secs(30));
        let moto = Self { _guard: guard, addr };
        moto.create_role("quartz-performer");
        moto
    }

    /// One moto per test binary, started on first use. moto keeps state across tests, so
    /// tests that share it use distinct names.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// IAM CreateRole through moto's query API. moto routes requests by the service named in
    /// the SigV4 credential scope and does not check signatures.
    pub fn create_role(&self, name: &str) {
        let status = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-X", "POST", &format!("{}/", self.endpoint())])
            .args(["-H", "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"])
            .args(["--data", &format!("Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D")])
            .status()
            .expect("curl runs");
        assert!(status.success(), "moto refused CreateRole {name}");
    }
    /// moto runs image functions in docker unless told otherwise; without docker its Lambda
    /// answers every invoke with the event it was given. The setting is moto-wide, so only on
    /// a moto of the test's own.
    pub fn without_docker(&self) {
        let status = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
            ])
            .args(["--data", r#"{"lambda": {"use_docker": false}}"#])
            .arg(format!("{}/moto-api/config", self.endpoint()))
            .status()
            .expect("curl runs");
        assert!(status.success(), "moto refused its lambda config");
    }
}

/// A name no other test in this process uses, for resources on a shared moto (which keeps
/// state across tests).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
