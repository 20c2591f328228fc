#!/usr/bin/env bash
# Benchmarks the adapter's overhead over invoking the local runtime directly: p50/p99 added
# latency and req/s at concurrency 1 and 16, HTTP /perform vs the SDK on the `live` alias.
# Needs bwrap and docker-registry (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p quartz-adapter --example bench_adapter
