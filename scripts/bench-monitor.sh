#!/usr/bin/env bash
# Backfill speed of the release monitor against local anvil loaded with the EigenLayer fork
# state (the production ReleaseManager): mines BLOCKS blocks holding RELEASES releases, then
# times `quartz monitor` from start until its checkpoint reaches the head, and reports blocks/s
# and logs/s. Usage: [BLOCKS=20000] [RELEASES=200] bash scripts/bench-monitor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=${BLOCKS:-20000}
releases=${RELEASES:-200}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quartz-target}"
# QUARTZ_BIN: a binary already built (bench/run.sh builds it once for every measure).
if [ -z "${QUARTZ_BIN:-}" ]; then cargo build --release -q -p quartz; fi
quartz="${QUARTZ_BIN:-$CARGO_TARGET_DIR/release/quartz}"

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

port=$(free_port)
anvil --load-state chain/eigenlayer-sepolia-fork.json --prune-history --host 127.0.0.1 --port "$port" >"$work/anvil.log" 2>&1 &
pids+=($!)
export ETH_RPC_URL="http://127.0.0.1:$port"
for _ in $(seq 1 100); do cast chain-id >/dev/null 2>&1 && break; sleep 0.1; done

rm_address=0x59c8D715DCa616e032B744a753C017c9f3E16bf4
avs=0x00000000000000000000000000000000000a11ce # any address may publish for its own operator sets
set_id=7
cast rpc anvil_impersonateAccount "$avs" >/dev/null
cast rpc anvil_setBalance "$avs" 0x56BC75E2D63100000 >/dev/null
cast send -q "$rm_address" "publishMetadataURI((address,uint32),string)" "($avs,$set_id)" "https://example.invalid/avs" \
  --from "$avs" --unlocked
start=$(cast block-number)
per=$((blocks / releases))
upgrade_by=$(( $(date +%s) + 365 * 86400 ))
echo "mining $blocks blocks with $releases releases (one every $per blocks)..."
# One JSON-RPC request per step (not one `cast` process per release), so that 1,000 releases take
# seconds: the calldata differs between releases only in the digest.
template=$(cast calldata "publishRelease((address,uint32),((bytes32,string)[],uint32))" "($avs,$set_id)" \
  "([(0x$(printf 'ab%.0s' $(seq 32)),ghcr.io/quartz/bench)],$upgrade_by)")
python3 - "$ETH_RPC_URL" "$rm_address" "$avs" "$template" "$releases" "$per" <<'PY'
import json, sys, urllib.request
url, to, sender, template, releases, per = sys.argv[1:]
marker = "ab" * 32
def rpc(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    answer = json.load(urllib.request.urlopen(urllib.request.Request(url, body, {"content-type": "application/json"})))
    if "error" in answer:
        sys.exit(f"{method}: {answer['error']}")
    return answer["result"]
for i in range(1, int(releases) + 1):
    rpc("anvil_mine", hex(int(per) - 1))
    # An explicit gas limit: estimating it first took most of a second per release.
    rpc("eth_sendTransaction", {"from": sender, "to": to, "gas": hex(1_000_000),
                                "data": template.replace(marker, "%064x" % i)})
PY
head=$(cast block-number)

cat >"$work/quartz.toml" <<TOML
[monitor]
rpc_urls = ["$ETH_RPC_URL"]
release_manager = "$rm_address"
start_block = $start
confirmations = 0
watch = [{ avs = "$avs", operator_set_id = $set_id }]
poll_interval_ms = 100
progress_bar = false
TOML
began=$(date +%s.%N)
"$quartz" --config "$work/quartz.toml" --data-dir "$work/data" monitor --listen 127.0.0.1:0 >"$work/monitor.out" 2>"$work/monitor.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -q "listening on" "$work/monitor.out" 2>/dev/null && break; sleep 0.05; done
metrics=$(grep -o 'http://[0-9.:]*' "$work/monitor.out")/metrics
while :; do
  checkpoint=$(curl -s "$metrics" | awk '/^quartz_monitor_checkpoint_block /{print $2}')
  if [ -n "$checkpoint" ] && [ "${checkpoint%.*}" -ge "$head" ]; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then cat "$work/monitor.err" >&2; echo "the monitor exited" >&2; exit 1; fi
  sleep 0.02
done
ended=$(date +%s.%N)
found=$(python3 -c "import sqlite3; print(sqlite3.connect('$work/data/quartz.db').execute('select count(*) from release_outbox').fetchone()[0])")
python3 - "$began" "$ended" "$start" "$head" "$releases" "$found" "$(nproc)" <<'PY'
import json, sys
began, ended, start, head, releases, found, cores = sys.argv[1:]
secs = float(ended) - float(began)
span = int(head) - int(start)
print(f"backfill of {span} blocks holding {releases} releases ({found} in the outbox) on {cores} cores")
print(f"  {secs:.2f} s from start to caught up: {span / secs:,.0f} blocks/s, {int(found) / secs:,.0f} logs/s")
print("BENCHJSON " + json.dumps({"blocks": span, "releases": int(found), "seconds": round(secs, 3),
                                 "blocks_per_s": span / secs, "logs_per_s": int(found) / secs}))
PY
[ "$found" -ge "$releases" ] || { echo "expected at least $releases releases in the outbox, found $found" >&2; exit 1; }
