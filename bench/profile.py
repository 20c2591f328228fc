"""Where the time goes on the paths whose targets BENCHMARKS.md reports as missed: samples the
whole machine with `perf record` (cpu-clock; this kind has no hardware counters) while wrk or
h2load drives one path at c=1, and prints the share of samples by process and the top symbols.

    python3 bench/profile.py [direct|http|grpc ...]     # after bench/run.sh built the binaries

Whole-machine sampling because at c=1 a request's time is spread over the load generator, the
runtime, the function process and the kernel's loopback."""

import json
import subprocess
import sys

from lib import SCRATCH, close_all, h2load_grpc, wrk
from systems import AVS, EVENT_SMALL, Quartz

SECONDS = 8


def drive(quartz, path):
    if path == "direct":
        return lambda: wrk(quartz.endpoint + quartz.invoke_path("bench-direct"), 1, SECONDS, EVENT_SMALL)
    if path == "http":
        perform = {"avsAddress": AVS, "taskId": "bench", "payload": EVENT_SMALL["payload"]}
        return lambda: wrk(quartz.adapter_url + "/perform", 1, SECONDS, perform)
    payload = json.dumps(EVENT_SMALL["payload"]).encode()
    return lambda: h2load_grpc(quartz.adapter_url, 1, SECONDS, payload)


def profile(quartz, path):
    data = SCRATCH / f"perf-{path}.data"
    perf = subprocess.Popen(["perf", "record", "-a", "-F", "1999", "-g", "-o", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = drive(quartz, path)()
    finally:
        perf.send_signal(2)
        perf.wait(60)
    print(f"\n== {path} at c=1: {result['rps']:,.0f} req/s, p50 {result['p50'] * 1000:.0f} µs ==")
    report = ["perf", "report", "-i", str(data), "--stdio", "--no-children", "--percent-limit", "1.5"]
    by_comm = subprocess.run(report + ["--sort", "comm"], capture_output=True, text=True).stdout
    print("share of samples by process:")
    print("\n".join(line for line in by_comm.splitlines() if "%" in line and not line.startswith("#"))[:1500])
    symbols = subprocess.run(report + ["--sort", "comm,dso,symbol", "-g", "none"],
                             capture_output=True, text=True).stdout
    print("top symbols:")
    print("\n".join(line for line in symbols.splitlines() if "%" in line and not line.startswith("#"))[:4000])


def main():
    paths = sys.argv[1:] or ["direct", "http", "grpc"]
    quartz = Quartz()
    try:
        quartz.create("bench-direct")
        quartz.invoke("bench-direct")
        if {"http", "grpc"} & set(paths):
            quartz.start_adapter()
        for path in paths:
            profile(quartz, path)
    finally:
        close_all()


if __name__ == "__main__":
    main()
