"""The measurements of issue 9, each returning plain data for report.py. Peer and Quartz runs
alternate round by round so that both see the same background load."""

import http.client
import json
import multiprocessing
import os
import time

from lib import find_processes, h2load_grpc, median_of, pct, request, rss_kb, wrk
from systems import AVS, EVENT_SMALL

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
CONCURRENCY = (1, 16, 64)


def alternate(runners):
    """Runs each named runner once per round, in turn; returns the median of each. A runner that
    fails is dropped with its error, so one broken system does not lose the other's numbers."""
    runs = {name: [] for name in runners}
    failed = {}
    for _ in range(ROUNDS):
        for name, run in runners.items():
            if name in failed:
                continue
            try:
                runs[name].append(run())
            except Exception as error:  # noqa: BLE001 - reported in the results
                failed[name] = {"error": f"{type(error).__name__}: {error}"[:300]}
    return {name: median_of(r) if r else failed[name] for name, r in runs.items()}


def direct_invoke(quartz, peer, log):
    """Measure 1: the Invoke API of each runtime, one write per request (wrk)."""
    quartz.create("bench-direct")
    quartz.invoke("bench-direct")
    results = {}
    for c in CONCURRENCY:
        runners = {"quartz": lambda: wrk(quartz.endpoint + quartz.invoke_path("bench-direct"), c, SECONDS, EVENT_SMALL)}
        if peer:
            runners["peer"] = lambda: wrk(peer.endpoint + peer.invoke_path(), c, SECONDS, EVENT_SMALL)
        results[c] = alternate(runners)
        log(f"  direct invoke c={c}: " + fmt(results[c]))
    return results


def task_path(quartz, log):
    """Measure 2: HTTP /perform and gRPC ExecuteTask through the adapter, against invoking the
    same `live` alias directly in the same rounds (the difference is the adapter's hop)."""
    quartz.start_adapter()
    live = quartz.endpoint + quartz.invoke_path(quartz_function(), "live")
    perform = {"avsAddress": AVS, "taskId": "bench", "payload": EVENT_SMALL["payload"]}
    payload = json.dumps(EVENT_SMALL["payload"]).encode()
    results = {}
    for c in CONCURRENCY:
        results[c] = alternate({
            "direct": lambda: wrk(live, c, SECONDS, EVENT_SMALL),
            "http": lambda: wrk(quartz.adapter_url + "/perform", c, SECONDS, perform),
            "grpc": lambda: h2load_grpc(quartz.adapter_url, c, SECONDS, payload),
        })
        log(f"  task path c={c}: " + fmt(results[c]))
    return results


def quartz_function():
    from systems import ADAPTER_FUNCTION
    return ADAPTER_FUNCTION


def _two_write_worker(args):
    host, port, path, count = args
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = json.dumps(EVENT_SMALL).encode()
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        # http.client sends the headers and the body in two writes (with TCP_NODELAY).
        conn.request("POST", path, body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.status
    conn.close()
    return latencies


def two_write(quartz, peer, log, concurrency=16, per_worker=150):
    """Measure 3: Python http.client (two writes per request) at c=16, one process per connection."""
    def run(endpoint, path):
        host, port = endpoint.removeprefix("http://").split(":")
        with multiprocessing.get_context("fork").Pool(concurrency) as pool:
            started = time.perf_counter()
            parts = pool.map(_two_write_worker, [(host, int(port), path, per_worker)] * concurrency)
            elapsed = time.perf_counter() - started
        lat = sorted(x for part in parts for x in part)
        return {"rps": len(lat) / elapsed, "p50": pct(lat, 50), "p99": pct(lat, 99), "max": lat[-1],
                "stalls": sum(1 for x in lat if x >= 30) / len(lat) * 100}
    runners = {"quartz": lambda: run(quartz.endpoint, quartz.invoke_path("bench-direct"))}
    if peer:
        runners["peer"] = lambda: run(peer.endpoint, peer.invoke_path())
    result = alternate(runners)
    log("  two-write client c=16: " + fmt(result))
    return result


def cold_start(quartz, log, functions=5):
    """Measure 4 (Quartz): CreateFunction -> first response, and the first invoke of an Active
    function (instance spawn -> first response); the image is already in the local registry."""
    create, spawn = [], []
    for i in range(functions):
        name = f"bench-cold-{i}"
        started = time.perf_counter()
        quartz.create(name)
        ready = time.perf_counter()
        quartz.invoke(name)
        done = time.perf_counter()
        create.append((done - started) * 1000)
        spawn.append((done - ready) * 1000)
    result = {"create_to_response": sorted(create)[functions // 2], "spawn_to_response": sorted(spawn)[functions // 2]}
    log(f"  cold start (median of {functions}): " + fmt(result))
    return result


def peer_cold_start(make_peer, log, restarts=3):
    """Measure 4 (peer): `cargo lambda watch` answering, to its first invoke's response (it
    starts the function process on the first invoke)."""
    colds = []
    for _ in range(restarts):
        peer = make_peer()
        started = time.perf_counter()
        peer.invoke()
        colds.append((time.perf_counter() - started) * 1000)
        peer.close()
    result = {"spawn_to_response": sorted(colds)[restarts // 2]}
    log(f"  peer cold start (median of {restarts}): " + fmt(result))
    return result


def registry_get(quartz, log):
    """Measure 7: GET /performers/{avs}/{id} at c=16 (includes its functionStatus lookup)."""
    quartz.start_registry()
    url = f"{quartz.registry_url}/performers/{AVS}/0"
    result = alternate({"quartz": lambda: wrk(url, 16, SECONDS, method="GET")})["quartz"]
    log("  registry GET c=16: " + fmt(result))
    return result


def function_rss(system, name, invoke_url, log, invokes=100_000):
    """Measure 9: RSS of the function's processes before and after `invokes` invocations at c=1
    (Quartz runs one instance at c=1; cargo lambda watch starts --concurrency processes and the
    sum over them is reported). In a Quartz image the binary is `bootstrap`."""
    request(*invoke_url, EVENT_SMALL)
    # Only this function's processes: the runtime also holds the other measures' instances.
    function = invoke_url[2].split("/functions/")[1].split("/")[0]
    pids = [p for p in find_processes(system.function_pid(), ("bootstrap", "performer"))
            if function_of(p) in (function, None)]
    if not pids:
        log(f"  {name}: function process not found")
        return None
    before = sum(rss_kb(p) for p in pids)
    done, started = 0, time.perf_counter()
    while done < invokes:
        done += wrk(invoke_url[0] + invoke_url[2], 1, 5, EVENT_SMALL)["requests"]
    result = {"invokes": done, "processes": len(pids), "before_kb": before,
              "after_kb": sum(rss_kb(p) for p in pids), "seconds": time.perf_counter() - started}
    result["bytes_per_invoke"] = (result["after_kb"] - before) * 1024 / done
    log(f"  {name} function RSS: " + fmt(result))
    return result


def function_of(pid):
    """AWS_LAMBDA_FUNCTION_NAME of a function process (both runtimes set it), if readable."""
    try:
        for entry in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
            if entry.startswith(b"AWS_LAMBDA_FUNCTION_NAME="):
                return entry.split(b"=", 1)[1].decode()
    except OSError:
        pass
    return None


def fmt(value):
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
