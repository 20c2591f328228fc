#!/usr/bin/env bash
# The benchmark harness of issue 9, in one command: builds the release binaries, runs every
# measurement on loopback (Quartz and, when installed, cargo-lambda's emulator as the peer,
# alternating), writes BENCHMARKS.md and bench/chart.png, and prints the change against the
# previous BENCHMARKS.md. Takes about 15 minutes on 2 cores.
#
#   bash bench/run.sh                        # everything
#   BENCH_ONLY=direct,task bash bench/run.sh # some measures; BENCHMARKS.md left alone
#   BENCH_ROUNDS=3 BENCH_SECONDS=3           # rounds per measure and seconds per round
#
# The peer: `cargo install cargo-lambda --locked --root ~/.cache/cargo-lambda` (about 16 minutes
# to build; skipped with a message when absent). Needs bwrap, docker-registry, anvil and cast
# (scripts/setup.sh); installs wrk, h2load and matplotlib itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quartz-target}"

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v h2load >/dev/null || need_apt+=(nghttp2-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null
fi
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install -q matplotlib

echo "building release binaries..."
cargo build --release -q -p quartz
# The function image holds a static binary, built in its own target dir (as quartz-testkit does).
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/performer-static" RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release -q -p performer --target x86_64-unknown-linux-gnu

exec python3 bench/harness.py
