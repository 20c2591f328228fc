"""Runs every measurement of issue 9 on loopback and writes BENCHMARKS.md and bench/chart.png.
Started by bench/run.sh, which builds the release binaries first. BENCH_ONLY=direct,task,...
limits the run to some measures (then BENCHMARKS.md is left alone)."""

import datetime
import json
import os
import sys
import time
import traceback

import measures
import report
import scenarios
from lib import SCRATCH, close_all
from systems import Peer, Quartz, cargo_lambda, peer_or_none

ALL = ("direct", "task", "two_write", "cold", "registry", "function_rss", "release_to_live", "memory", "backfill")


def log(message):
    print(message, flush=True)


def main():
    only = [m for m in os.environ.get("BENCH_ONLY", "").split(",") if m] or list(ALL)
    run = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "nproc": os.cpu_count(), "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]),
           "rounds": measures.ROUNDS, "seconds": measures.SECONDS, "results": {}}
    r = run["results"]
    started = time.time()
    log(f"bench: nproc {run['nproc']}, load average {run['loadavg']}, scratch {SCRATCH}")
    try:
        quartz = Quartz()
        peer = peer_or_none(log) if {"direct", "two_write", "cold", "function_rss"} & set(only) else None
        run["peer"] = ("cargo-lambda `cargo lambda watch --release` (" + cargo_lambda() + "), same example performer"
                       if peer else "not measured (cargo-lambda not installed)")
        if "direct" in only:
            log("1. direct invoke")
            r["direct"] = measures.direct_invoke(quartz, peer, log)
        if "task" in only:
            log("2. task path through the adapter")
            r["task"] = measures.task_path(quartz, log)
        if "two_write" in only:
            log("3. two-write client")
            if "direct" not in only:
                quartz.create("bench-direct")
            r["two_write"] = measures.two_write(quartz, peer, log)
        if "registry" in only:
            log("7. registry")
            if quartz.adapter is None:
                quartz.start_adapter()
            r["registry"] = measures.registry_get(quartz, log)
        if "cold" in only:
            log("4. cold start")
            r["cold"] = {"quartz": measures.cold_start(quartz, log)}
        if "function_rss" in only:
            log("9. function RSS")
            quartz.create("bench-rss")
            r["function_rss"] = {"quartz": measures.function_rss(
                quartz, "Quartz", (quartz.endpoint, "POST", quartz.invoke_path("bench-rss")), log)}
        if peer:
            peer.close()
            if "cold" in only:
                r["cold"]["peer"] = measures.peer_cold_start(lambda: Peer(cargo_lambda()), log)
            if "function_rss" in only:
                fresh = Peer(cargo_lambda())
                r["function_rss"]["peer"] = measures.function_rss(
                    fresh, "peer", (fresh.endpoint, "POST", fresh.invoke_path()), log)
                fresh.close()
        close_all()
        for name in ("release_to_live", "memory", "backfill"):
            if name in only:
                log(f"{name}")
                try:
                    r[name] = getattr(scenarios, name)(log)
                except Exception as error:  # one missing piece (e.g. `quartz up`) must not lose the rest
                    log(f"  {name} not measured: {error}")
                    run.setdefault("not_measured", {})[name] = str(error)
                finally:
                    close_all()
    finally:
        close_all()
    run["wall_seconds"] = round(time.time() - started)
    log(f"bench: done in {run['wall_seconds']} s")
    previous = report.previous_results()
    report.print_changes(previous, run)
    (SCRATCH / "results.json").write_text(json.dumps(run, indent=1))
    if os.environ.get("BENCH_ONLY"):
        log(f"BENCH_ONLY set: results in {SCRATCH / 'results.json'}, BENCHMARKS.md left alone")
        return
    report.write(run)
    report.chart(run)
    log("wrote BENCHMARKS.md and bench/chart.png")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        close_all()
        sys.exit(1)
