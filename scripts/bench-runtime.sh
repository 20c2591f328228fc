#!/usr/bin/env bash
# Benchmarks the local runtime with the example performer: cold start, warm p50/p99, req/s at
# concurrency 1, 4 and 16. Needs bwrap and docker-registry (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p quartz-runtime --example bench
