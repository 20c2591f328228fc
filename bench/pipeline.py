"""`quartz up` on anvil (1 s blocks, the production ReleaseManager from the fork state): release
to live (measure 5) and the memory of `quartz up` idle and under the task load of measure 2
(measure 8)."""

import json
import statistics
import subprocess
import time
import urllib.request

import measures
from lib import PERFORMER, QUARTZ, ROOT, SCRATCH, Proc, free_port, h2load_grpc, hwm_kb, request, rss_kb, wait_http, wrk

RELEASE_MANAGER = "0x59c8D715DCa616e032B744a753C017c9f3E16bf4"
AVS = "0xa11ce00000000000000000000000000000000b01"
PUBLISH = "publishRelease((address,uint32),((bytes32,string)[],uint32))"


class Chain:
    def __init__(self):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.proc = Proc("anvil", ["anvil", "--host", "127.0.0.1", "--port", str(port), "--block-time", "1",
                                   "--load-state", str(ROOT / "chain/eigenlayer-sepolia-fork.json")])
        self.proc.wait_line(r"Listening on", timeout=120)
        self.rpc("anvil_impersonateAccount", AVS)
        self.rpc("anvil_setBalance", AVS, hex(10**20))

    def rpc(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, body, {"content-type": "application/json"})
        answer = json.load(urllib.request.urlopen(req, timeout=30))
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def send(self, signature, *args):
        """Sends a transaction as the AVS; returns when it is mined, with the time it was seen mined."""
        data = subprocess.run(["cast", "calldata", signature, *args], capture_output=True, text=True,
                              check=True).stdout.strip()
        tx = self.rpc("eth_sendTransaction", {"from": AVS, "to": RELEASE_MANAGER, "data": data})
        while True:
            receipt = self.rpc("eth_getTransactionReceipt", tx)
            if receipt:
                if receipt["status"] != "0x1":
                    raise RuntimeError(f"{signature} reverted: {receipt}")
                return time.perf_counter()
            time.sleep(0.005)

    def publish(self, image):
        reference, digest = image.split("@sha256:")
        upgrade_by = int(time.time()) + 365 * 86400
        return self.send(PUBLISH, f"({AVS},0)", f"([(0x{digest},{reference})],{upgrade_by})")


class Up:
    def __init__(self, chain):
        reg_port = free_port()
        self.oci_host = f"127.0.0.1:{reg_port}"
        (SCRATCH / "up-oci.yml").write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {SCRATCH}/up-oci\n"
            f"http:\n  addr: {self.oci_host}\n  secret: bench\n")
        self.oci = Proc("up-registry", ["docker-registry", "serve", str(SCRATCH / "up-oci.yml")])
        wait_http(f"http://{self.oci_host}", "/v2/")
        self.images = {}
        for version in ("v1", "v2"):
            pushed = Proc(f"package-{version}", [str(QUARTZ), "package", "--binary", str(PERFORMER), "--push",
                                                 f"{self.oci_host}/performer:{version}", "--insecure",
                                                 "--env", f"PERFORMER_VERSION={version}"])
            pushed.p.wait(120)
            self.images[version] = pushed.wait_line(r"\S+@sha256:[0-9a-f]{64}").group(0)
        head = int(chain.rpc("eth_blockNumber"), 16)
        config = SCRATCH / "up.toml"
        # The quickstart's settings: confirmations 0, the monitor polling every 250 ms.
        config.write_text(
            f'data_dir = "{SCRATCH}/up-data"\n\n[monitor]\nrpc_urls = ["{chain.url}"]\n'
            f'release_manager = "{RELEASE_MANAGER}"\nstart_block = {head}\nconfirmations = 0\n'
            f'poll_interval_ms = 250\nprogress_bar = false\nwatch = [{{ avs = "{AVS}", operator_set_id = 0 }}]\n\n'
            f'[factory]\npoll_interval_ms = 100\n\n[factory.registries]\nallowed_registries = ["{self.oci_host}"]\n'
            f'insecure_registries = ["{self.oci_host}"]\n')
        self.proc = Proc("quartz-up", [str(QUARTZ), "--config", str(config), "up", "--registry-listen",
                                       "127.0.0.1:0", "--runtime-listen", "127.0.0.1:0", "--adapter-listen",
                                       "127.0.0.1:0"])
        self.proc.wait_line(r"quartz up: ready", timeout=120)
        self.registry = self.proc.wait_line(r"registry API\s+(http://\S+)/performers").group(1)
        self.adapter = self.proc.wait_line(r"tasks \(HTTP\)\s+(http://\S+)/perform").group(1)
        self.lambda_api = self.proc.wait_line(r"Lambda API\s+(http://\S+)").group(1)
        self.pid = self.proc.p.pid

    def task_version(self):
        status, _, body = request(self.adapter, "POST", "/perform", {
            "avsAddress": AVS, "operatorSetId": 0, "taskId": "bench",
            "payload": {"operation": "compute", "params": {"a": 1, "b": 2}}})
        if status != 200 or not isinstance(body, dict) or not body.get("success"):
            return None
        return body["result"].get("version")


def wait_version(up, version, timeout=120):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if up.task_version() == version:
            return time.perf_counter()
        time.sleep(0.01)
    raise RuntimeError(f"version {version} did not serve a task within {timeout} s; log:\n"
                       + up.proc.err.read_text()[-3000:])


def run_up(log, measure_memory):
    chain = Chain()
    up = Up(chain)
    result = {}
    if measure_memory:
        time.sleep(5)
        result["idle_rss_mb"] = rss_kb(up.pid) / 1024
        result["idle_peak_rss_mb"] = hwm_kb(up.pid) / 1024
    chain.send("publishMetadataURI((address,uint32),string)", f"({AVS},0)", "https://example.invalid/bench")
    mined = chain.publish(up.images["v1"])
    first = wait_version(up, "v1") - mined
    lags = []
    for i, version in enumerate(("v2", "v1", "v2")):
        mined = chain.publish(up.images[version])
        lags.append(wait_version(up, version) - mined)
    result["first_release_seconds"] = first
    result["seconds"] = statistics.median(lags)
    result["each_seconds"] = ", ".join(f"{x:.2f}" for x in lags)
    # The task path as `quartz up` serves it (the adapter invokes the runtime in-process),
    # against invoking the same `live` alias on its Lambda API in the same rounds.
    payload = {"operation": "compute", "params": {"a": 1, "b": 2}}
    # The same JSON serves as /perform body and as the function's event.
    perform = {"avsAddress": AVS, "operatorSetId": 0, "taskId": "bench", "payload": payload}
    live = f"{up.lambda_api}/2015-03-31/functions/avs-{AVS}-opset-0-performer/invocations?Qualifier=live"
    task = {}
    for c in measures.CONCURRENCY:
        task[c] = measures.alternate({
            "direct": lambda: wrk(live, c, measures.SECONDS, perform),
            "http": lambda: wrk(up.adapter + "/perform", c, measures.SECONDS, perform),
            "grpc": lambda: h2load_grpc(up.adapter, c, measures.SECONDS, json.dumps(payload).encode(),
                                        metadata=(("x-quartz-avs-address", AVS), ("x-quartz-operator-set-id", "0"))),
        })
        log(f"  quartz up task path c={c}: " + measures.fmt(task[c]))
    result["task"] = task
    if measure_memory:
        result["under_load_rss_mb"] = rss_kb(up.pid) / 1024
        result["peak_rss_mb"] = hwm_kb(up.pid) / 1024
    log("  quartz up: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                   for k, v in result.items() if k != "task"))
    return result
