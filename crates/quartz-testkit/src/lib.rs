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
pub use moto::{MOTO_ROLE_ARN, Moto, unique_name};
pub use oci_registry::OciRegistry;
pub use performer::performer_binary;
pub use process::{ChildGuard, free_port, require_tool, wait_for_http, wait_for_line};

/// The workspace root, for locating fixtures and scripts: the nearest directory holding
/// `Cargo.lock` above the running test's crate. Read at run time (cargo test sets
/// `CARGO_MANIFEST_DIR`), because a build cache shared between clones may hold this crate
/// compiled in another clone, whose path is baked into `env!`.
pub fn workspace_root() -> std::path::PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or_else(|| panic!("no Cargo.lock above {}", start.display()))
        .to_path_buf()
}
