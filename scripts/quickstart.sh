#!/usr/bin/env bash
# The main job on the embedded default. Today it runs the performer registry on the embedded
# SQLite store, checking functions against a Lambda API (moto stands in for it). The runtime,
# monitor, factory and adapter exist as subcommands; `quartz up` (issue 7) will join them, and
# this script will then run the whole pipeline on the ReleaseManager.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quartz-target}"
cargo build --release -p quartz
quartz="$CARGO_TARGET_DIR/release/quartz"

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\n\033[31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }
wait_for() { for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; fail "$3"; }

step "Lambda API stand-in: moto on loopback"
moto_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 & pids+=($!)
lambda="http://127.0.0.1:$moto_port"
for _ in $(seq 1 100); do curl -s -o /dev/null "$lambda" && break; sleep 0.1; done
sig='Authorization: AWS4-HMAC-SHA256 Credential=demo/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=0'
curl -sf -o /dev/null -X POST "$lambda/" -H "$(printf "$sig" iam)" \
  --data 'Action=CreateRole&Version=2010-05-08&RoleName=quartz-performer&AssumeRolePolicyDocument=%7B%7D' || fail "moto CreateRole"
avs=0x8e14dB002737F89745bc98F987caeB18D0d47635
function=avs-0x8e14db002737f89745bc98f987caeb18d0d47635-opset-0-performer
digest=sha256:1f3770694bb5bf52025c03d3ac4fefc34da07711fd515d2635d52639ba73794e
curl -sf -o /dev/null -X POST "$lambda/2015-03-31/functions" -H "$(printf "$sig" lambda)" -H 'Content-Type: application/json' \
  --data "{\"FunctionName\":\"$function\",\"PackageType\":\"Image\",\"Role\":\"arn:aws:iam::123456789012:role/quartz-performer\",\"Code\":{\"ImageUri\":\"ghcr.io/bdchatham/hgctl-integ@$digest\"}}" \
  || fail "moto CreateFunction"
echo "function $function exists on the Lambda API at $lambda"

step "quartz registry (data dir $work/data)"
"$quartz" --data-dir "$work/data" registry --listen 127.0.0.1:0 --lambda-endpoint "$lambda" >"$work/registry.out" 2>"$work/registry.err" & pids+=($!)
wait_for "$work/registry.out" "listening on" "the registry did not start: $(cat "$work/registry.err")"
registry=$(grep -o 'http://[0-9.:]*' "$work/registry.out")
token=$(cat "$work/data/registry.token")
echo "registry at $registry; write token in $work/data/registry.token"

step "Register release 0 for ($avs, 0) with PUT (the factory will do this after a deployment)"
curl -sf -X PUT "$registry/performers/$avs/0" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data "{\"releaseId\":0,\"functionVersion\":\"1\",\"imageUri\":\"ghcr.io/bdchatham/hgctl-integ@$digest\"}" | jq . || fail "PUT"

step "Read it back: the entry and the function's status from the Lambda API"
curl -sf "$registry/performers/${avs,,}/0" | jq . || fail "GET"

step "Release history"
curl -sf "$registry/performers/$avs/0/releases" | jq . || fail "history"

step "A write without the token is refused"
status=$(curl -s -o "$work/refused.json" -w '%{http_code}' -X DELETE "$registry/performers/$avs/0")
cat "$work/refused.json"; echo
[ "$status" = 401 ] || fail "expected 401, got $status"

step "Metrics"
curl -sf "$registry/metrics" | grep '^quartz_http_requests_total' || fail "metrics"

printf '\n\033[32mOK\033[0m: the registry works end to end. The runtime, monitor, factory and adapter run as their own\n'
printf 'subcommands (see the README); with `quartz up` (issue 7) this command will take a release from the\n'
printf 'ReleaseManager to a live function.\n'
