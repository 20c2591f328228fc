#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test of the workspace.
# The build cache lives outside the clone (~/.cache/quartz-target) so repeated runs are quick;
# without it everything is built from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quartz-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo build --workspace --all-targets
exec cargo test --workspace --no-fail-fast -- --color never
