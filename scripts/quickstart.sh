#!/usr/bin/env bash
# The main job: a release published on the production ReleaseManager (an anvil node loaded with
# EigenLayer's Sepolia state) becomes a live function on Quartz's local runtime, answers tasks
# over HTTP and gRPC, and a second release takes over the traffic without a failed task.
# Exits 0 only if all of that happened; otherwise it says which step failed and shows the logs.
#
# Environment (all optional): QUARTZ_BIN / QUARTZ_PERFORMER_BIN use prebuilt binaries instead of
# building; QUARTZ_SKIP_SETUP=1 skips scripts/setup.sh; QUARTZ_KEEP=1 keeps everything running
# at the end (Ctrl-C stops it) so you can open the web page.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() {
  printf '\n\033[31mFAILED: %s\033[0m\n' "$*" >&2
  if [ -f "${work:-/nonexistent}/up.err" ]; then
    printf '\n--- last lines of quartz up log (%s/up.err) ---\n' "$work" >&2
    tail -n 30 "$work/up.err" >&2
  fi
  exit 1
}
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_until SECONDS DESCRIPTION COMMAND...: retries COMMAND every 0.2 s.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what"
    sleep 0.2
  done
}

[ "${QUARTZ_SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quartz-target}"
if [ -z "${QUARTZ_BIN:-}" ]; then
  step "Build quartz (release)"
  cargo build --release -p quartz
  QUARTZ_BIN="$CARGO_TARGET_DIR/release/quartz"
fi
if [ -z "${QUARTZ_PERFORMER_BIN:-}" ]; then
  step "Build the example performer as a static binary (examples/performer)"
  CARGO_TARGET_DIR="$CARGO_TARGET_DIR/performer-static" RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release -p performer --target x86_64-unknown-linux-gnu
  QUARTZ_PERFORMER_BIN="$CARGO_TARGET_DIR/performer-static/x86_64-unknown-linux-gnu/release/performer"
fi
quartz() { "$QUARTZ_BIN" "$@"; }

work=$(mktemp -d /tmp/quartz-quickstart.XXXXXX)
pids=()
cleanup() {
  # SIGTERM first: quartz up stops its functions and finishes in-flight tasks.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Start anvil with EigenLayer's Sepolia state (the production ReleaseManager), 1 s blocks"
rpc_port=$(free_port)
anvil --host 127.0.0.1 --port "$rpc_port" --block-time 1 --load-state chain/eigenlayer-sepolia-fork.json \
  >"$work/anvil.log" 2>&1 & pids+=($!)
rpc="http://127.0.0.1:$rpc_port"
wait_until 60 "anvil did not start (see $work/anvil.log)" cast block-number --rpc-url "$rpc"
release_manager=0x59c8D715DCa616e032B744a753C017c9f3E16bf4
echo "anvil at $rpc, head $(cast block-number --rpc-url "$rpc"); ReleaseManager $release_manager has $(cast codesize $release_manager --rpc-url "$rpc") bytes of code"

step "Start a local OCI registry (docker-registry)"
registry_port=$(free_port)
registry_host="127.0.0.1:$registry_port"
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: $registry_host, secret: quickstart}
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 & pids+=($!)
wait_until 30 "the OCI registry did not start (see $work/registry.log)" curl -sf "http://$registry_host/v2/"
echo "registry at $registry_host"

step "Package the example performer twice (v1 and v2) as OCI images and push them"
image_v1=$(quartz package --binary "$QUARTZ_PERFORMER_BIN" --push "$registry_host/performer:v1" --insecure --env PERFORMER_VERSION=v1) \
  || fail "quartz package v1"
image_v2=$(quartz package --binary "$QUARTZ_PERFORMER_BIN" --push "$registry_host/performer:v2" --insecure --env PERFORMER_VERSION=v2) \
  || fail "quartz package v2"
echo "v1: $image_v1"
echo "v2: $image_v2"

# A test AVS of our own: on a dev chain, Quartz's publisher impersonates it.
avs=0xA11cE00000000000000000000000000000000001
avs=$(cast to-check-sum-address "$avs")
set_id=0
head=$(cast block-number --rpc-url "$rpc")
cat >"$work/quartz.toml" <<EOF
data_dir = "$work/data"

[monitor]
rpc_urls = ["$rpc"]
release_manager = "$release_manager"
start_block = $head
confirmations = 0
poll_interval_ms = 250
progress_bar = false
watch = [{ avs = "$avs", operator_set_id = $set_id }]

[factory]
poll_interval_ms = 100

[factory.function]
timeout_secs = 30
memory_mb = 256

[factory.registries]
allowed_registries = ["$registry_host"]
insecure_registries = ["$registry_host"]
EOF

step "Start quartz up (monitor, factory, runtime, registry API, adapter) with $work/quartz.toml"
# The binary itself, not the `quartz` function: `$!` must be its pid, or cleanup's SIGTERM
# would reach only a subshell and leave quartz up running.
"$QUARTZ_BIN" --config "$work/quartz.toml" up --registry-listen 127.0.0.1:0 --runtime-listen 127.0.0.1:0 \
  --adapter-listen 127.0.0.1:0 >"$work/up.out" 2>"$work/up.err" & pids+=($!)
up_pid=$!
wait_until 60 "quartz up did not become ready" grep -q "quartz up: ready" "$work/up.out"
sed -n '/quartz up: ready/,$p' "$work/up.out"
registry_api=$(sed -n 's/^registry listening on //p' "$work/up.out")
adapter=$(sed -n 's#^adapter listening on http://##p' "$work/up.out")

live_release() { curl -sf "$registry_api/performers/$avs/$set_id" | jq -r '.releaseId'; }
is_live() { [ "$(live_release)" = "$1" ]; }

step "Publish release 0 on the ReleaseManager (metadata URI first), as the AVS"
t0=$(date +%s.%N)
quartz release publish --rpc-url "$rpc" --release-manager "$release_manager" --impersonate \
  --avs "$avs" --operator-set-id "$set_id" --metadata-uri "https://example.com/quickstart-avs.json" \
  --image "$image_v1" || fail "quartz release publish (release 0)"

step "Wait until release 0 is live"
wait_until 120 "release 0 did not go live within 120 s" is_live 0
echo "release 0 live $(elapsed "$t0") s after publishRelease was sent:"
curl -sf "$registry_api/performers/$avs/$set_id" | jq .

step "Send tasks over HTTP (POST /perform) and over gRPC (PerformerService/ExecuteTask)"
stubs="$work/stubs"; mkdir -p "$stubs"
python3 -m grpc_tools.protoc -I crates/quartz-adapter/proto --python_out="$stubs" --grpc_python_out="$stubs" \
  crates/quartz-adapter/proto/performer.proto || fail "compiling the gRPC stubs (grpcio-tools)"
python3 scripts/demo_tasks.py http "$adapter" "$avs" "$set_id" || fail "the HTTP task"
python3 scripts/demo_tasks.py grpc "$adapter" "$avs" "$set_id" "$stubs" || fail "the gRPC task"

step "Publish release 1 (v2) while tasks keep flowing, and watch the traffic move"
stop="$work/stop-traffic"
python3 scripts/demo_tasks.py traffic "$adapter" "$avs" "$set_id" "$stop" >"$work/traffic.json" 2>&1 &
traffic_pid=$!
sleep 1
t1=$(date +%s.%N)
quartz release publish --rpc-url "$rpc" --release-manager "$release_manager" --impersonate \
  --avs "$avs" --operator-set-id "$set_id" --image "$image_v2" || fail "quartz release publish (release 1)"
wait_until 120 "release 1 did not go live within 120 s" is_live 1
echo "release 1 live $(elapsed "$t1") s after publishRelease was sent"
sleep 2
touch "$stop"
wait "$traffic_pid" || true
traffic=$(cat "$work/traffic.json")
echo "traffic during the switch: $traffic"
failed=$(jq -r '.failed' <<<"$traffic" 2>/dev/null || echo "?")
order=$(jq -r '.versionOrder | join(" -> ")' <<<"$traffic" 2>/dev/null || echo "?")
[ "$failed" = 0 ] || fail "$failed task(s) failed during the switch: $traffic"
[ "$order" = "v1 -> v2" ] || fail "expected the traffic to move from v1 to v2 once, saw: $order"
python3 scripts/demo_tasks.py http "$adapter" "$avs" "$set_id" || fail "the HTTP task after the switch"
python3 scripts/demo_tasks.py grpc "$adapter" "$avs" "$set_id" "$stubs" || fail "the gRPC task after the switch"

step "Why: the registry's release history, the factory's executions, and the metrics"
echo "release history ($registry_api/performers/$avs/$set_id/releases):"
curl -sf "$registry_api/performers/$avs/$set_id/releases" | jq -c '.releases[] | {releaseId, functionVersion, outcome, deployedAt}' \
  || fail "release history"
echo "executions ($registry_api/executions):"
curl -sf "$registry_api/executions" | jq -c '.executions[] | {id, releaseId, status, startedAt, finishedAt}' || fail "executions"
echo "metrics ($registry_api/metrics):"
curl -sf "$registry_api/metrics" | grep -E '^quartz_(factory_executions_total|monitor_(releases_total|lag_blocks)|adapter_tasks_total)' || true

printf '\n\033[32mOK\033[0m: release 0 went live and answered over HTTP and gRPC; release 1 took over the traffic (%s)\n' "$order"
printf 'with no failed task. Web page: %s/ui\n' "$registry_api"
if [ "${QUARTZ_KEEP:-0}" = 1 ]; then
  echo "QUARTZ_KEEP=1: everything keeps running; Ctrl-C stops it."
  wait "$up_pid" || true
fi
