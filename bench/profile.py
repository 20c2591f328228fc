"""Where the time goes on the paths whose targets BENCHMARKS.md reports as missed: samples the
whole machine with `perf record` (cpu-clock; this kind has no hardware counters) while wrk or
h2load drives one path (at c=1 unless given), and prints the share of samples by process and the top symbols.

    python3 bench/profile.py [direct|http|grpc[:CONCURRENCY] ...]   # after bench/run.sh built the binaries

Whole-machine sampling because at c=1 a request's time is spread over the load generator, the
runtime, the function process and the kernel's loopback."""

import json
import subprocess
import sys

from lib import SCRATCH, close_all, h2load_grpc, wrk
from systems import AVS, EVENT_SMALL, Quartz

SECONDS = 8


def drive(quartz, path, c):
    if path == "direct":
        return lambda: wrk(quartz.endpoint + quartz.invoke_path("bench-direct"), c, SECONDS, EVENT_SMALL)
    if path == "http":
        perform = {"avsAddress": AVS, "taskId": "bench", "payload": EVENT_SMALL["payload"]}
        return lambda: wrk(quartz.adapter_url + "/perform", c, SECONDS, perform)
    payload = json.dumps(EVENT_SMALL["payload"]).encode()
    return lambda: h2load_grpc(quartz.adapter_url, c, SECONDS, payload)


def profile(quartz, spec):
    path, _, c = spec.partition(":")
    c = int(c or 1)
    data = SCRATCH / f"perf-{path}-{c}.data"
    perf = subprocess.Popen(["perf", "record", "-a", "-F", "1999", "-g", "-o", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        result = drive(quartz, path, c)()
    finally:
        perf.send_signal(2)
        perf.wait(60)
    print(f"\n== {path} at c={c}: {result['rps']:,.0f} req/s, p50 {result['p50'] * 1000:.0f} µs ==")
    report = ["perf", "report", "-i", str(data), "--stdio", "--no-children", "-g", "none", "--percent-limit"]
    for title, sort, limit, rows in (("share of samples by process", "comm", "1", 10),
                                     ("by process and object (kernel, libc, the binary)", "comm,dso", "1", 14),
                                     ("top symbols", "comm,dso,symbol", "0.7", 40)):
        out = subprocess.run(report + [limit, "--sort", sort], capture_output=True, text=True).stdout
        print(f"{title}:")
        lines = [" ".join(line.split()) for line in out.splitlines() if "%" in line and not line.startswith("#")]
        print("\n".join("  " + line for line in lines[:rows]))


def main():
    paths = sys.argv[1:] or ["direct", "http", "grpc"]
    quartz = Quartz()
    try:
        quartz.create("bench-direct")
        quartz.invoke("bench-direct")
        if any(not p.startswith("direct") for p in paths):
            quartz.start_adapter()
        for path in paths:
            profile(quartz, path)
    finally:
        close_all()


if __name__ == "__main__":
    main()
