use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::workspace_root;

/// Builds the example performer (`examples/performer`) as a static binary, once per test
/// process, in its own target dir so that `crt-static` never touches the workspace's build.
pub fn performer_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let root = workspace_root();
            let target_dir = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), PathBuf::from)
                .join("performer-static");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let target = "x86_64-unknown-linux-gnu";
            let status = Command::new(cargo)
                .current_dir(&root)
                .args(["build", "--release", "-p", "performer", "--target", target])
                .env("CARGO_TARGET_DIR", &target_dir)
                .env("RUSTFLAGS", "-C target-feature=+crt-static")
                .status()
                .expect("run cargo to build the example performer");
            assert!(status.success(), "building the example performer failed");
            target_dir.join(target).join("release/performer")
        })
        .clone()
}
