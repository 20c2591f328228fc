use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, free_port, require_tool, wait_for_http};

/// moto's server mode: the AWS API (Lambda control calls, DynamoDB, SSM, Step Functions, ECR,
/// IAM) on loopback. Credentials and region can be anything.
pub struct Moto {
    _guard: ChildGuard,
    pub addr: SocketAddr,
}

impl Moto {
    pub fn start() -> Self {
        require_tool("moto_server");
        let port = free_port();
        let mut command = Command::new("moto_server");
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = ChildGuard::spawn("moto_server", command);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_for_http(addr, Duration::from_secs(30));
        Self { _guard: guard, addr }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}
