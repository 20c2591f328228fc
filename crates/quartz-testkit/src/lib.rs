//! Test harness shared by the integration tests of every crate.
//!
//! Each helper starts a real peer as a child process on `127.0.0.1` with an ephemeral port and
//! returns a guard; dropping the guard kills the process group, so no test leaves orphans.
//! Tests panic with a message that says how to install a missing tool (`scripts/setup.sh`).

mod anvil;
mod moto;
mod oci_registry;
mod performer;
mod process;

pub use anvil::{Anvil, fork_state_path};
pub use moto::{MOTO_ROLE_ARN, Moto};
pub use oci_registry::OciRegistry;
pub use performer::performer_binary;
pub use process::{ChildGuard, free_port, require_tool, wait_for_http, wait_for_line};

/// The workspace root, for locating fixtures and scripts.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}
