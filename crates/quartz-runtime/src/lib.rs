//! The local runtime: the part of the AWS Lambda API that Quartz uses, on one machine.
//!
//! The control API (functions, versions, aliases, concurrency) and the Invoke API are served on
//! one listener and answer exactly as Lambda does, so the official `aws-sdk-lambda` client works
//! against it unchanged. Functions are OCI images ([`quartz_oci`]) run as sandboxed processes
//! (bubblewrap) that speak the Lambda Runtime API, each instance on its own loopback endpoint.

mod config;
mod control;
mod error;
mod functions;
mod ids;
mod instance;
mod invoke;
pub mod logs;
mod model;
mod persist;
mod pool;
mod runtime_api;
mod sandbox;
mod server;
mod state;

pub use config::RuntimeConfig;
pub use error::{ApiError, ErrorType, RuntimeError};
pub use invoke::{Invocation, LocalInvoker};
pub use logs::copy_logs;
pub use server::{RuntimeHandle, serve};

/// Checks that bubblewrap (`program`) runs and can create its namespaces here, exactly as the
/// runtime checks at start; for `quartz doctor`.
pub async fn probe_sandbox(program: &str) -> Result<(), RuntimeError> {
    sandbox::Sandbox::probe(program).await.map(|_| ())
}
