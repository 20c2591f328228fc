"""Runs every measurement of issue 9 on loopback and writes BENCHMARKS.md and bench/chart.png.
Started by bench/run.sh, which builds the release binaries first. BENCH_ONLY=direct,task,...
limits the run to some measures (then BENCHMARKS.md is left alone)."""

import datetime
import json
import os
import signal
import sys
import time
import traceback

import measures
import pipeline
import report
import scenarios
from lib import SCRATCH, close_all
from systems import Peer, Quartz, cargo_lambda, peer_or_none

ALL = ("direct", "task", "two_write", "cold", "registry", "function_rss", "release_to_live", "memory", "backfill")


def log(message):
    print(message, flush=True)


def attempt(run, key, measure):
    """Runs one measure; a failure is logged and recorded instead of ending the run."""
    try:
        return measure()
    except Exception as error:  # noqa: BLE001 - recorded in BENCHMARKS.md
        log(f"  {key} not measured: {type(error).__name__}: {error}")
        run.setdefault("not_measured", {})[key] = f"{type(error).__name__}: {error}"[:500]
        return None


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
        peer = None
        if {"direct", "two_write", "cold", "function_rss"} & set(only):
            peer = attempt(run, "peer", lambda: peer_or_none(log))
        if peer:
            run["peer"] = f"cargo-lambda `cargo lambda watch --release` ({cargo_lambda()}), same example performer"
        else:
            run["peer"] = "not measured (" + ("see below" if "peer" in run.get("not_measured", {})
                                              else "cargo-lambda not installed") + ")"
        if "direct" in only:
            log("1. direct invoke")
            r["direct"] = attempt(run, "direct", lambda: measures.direct_invoke(quartz, peer, log))
        if "task" in only:
            log("2. task path through the adapter")
            r["task"] = attempt(run, "task", lambda: measures.task_path(quartz, log))
        if "two_write" in only:
            log("3. two-write client")
            if "direct" not in only:
                quartz.create("bench-direct")
            r["two_write"] = attempt(run, "two_write", lambda: measures.two_write(quartz, peer, log))
        if "registry" in only:
            log("7. registry")
            if quartz.adapter is None:
                quartz.start_adapter()
            r["registry"] = attempt(run, "registry", lambda: measures.registry_get(quartz, log))
        if "cold" in only:
            log("4. cold start")
            r["cold"] = {"quartz": attempt(run, "cold.quartz", lambda: measures.cold_start(quartz, log))}
        if "function_rss" in only:
            log("9. function RSS")
            quartz.create("bench-rss")
            r["function_rss"] = {"quartz": attempt(run, "function_rss.quartz", lambda: measures.function_rss(
                quartz, "Quartz", (quartz.endpoint, "POST", quartz.invoke_path("bench-rss")), log))}
        if peer:
            peer.close()
            if "cold" in only:
                r["cold"]["peer"] = attempt(run, "cold.peer", lambda: measures.peer_cold_start(
                    lambda: Peer(cargo_lambda()), log))
            if "function_rss" in only:
                def peer_rss():
                    fresh = Peer(cargo_lambda())
                    try:
                        return measures.function_rss(fresh, "peer", (fresh.endpoint, "POST", fresh.invoke_path()), log)
                    finally:
                        fresh.close()
                r["function_rss"]["peer"] = attempt(run, "function_rss.peer", peer_rss)
        close_all()
        if {"release_to_live", "memory"} & set(only):
            log("5. release to live, 8. memory of quartz up")
            try:
                up = pipeline.run_up(log, "memory" in only)
                r["release_to_live"] = {k: up[k] for k in ("first_release_seconds", "seconds", "each_seconds")}
                r["task_up"] = up["task"]
                if "memory" in only:
                    r["memory"] = {k: v for k, v in up.items() if "rss" in k}
            except Exception as error:  # a failure here must not lose the other measures
                log(f"  quartz up not measured: {error}")
                run.setdefault("not_measured", {})["quartz_up"] = str(error)[:500]
            finally:
                close_all()
        if "backfill" in only:
            log("6. backfill")
            try:
                r["backfill"] = scenarios.backfill(log)
            except Exception as error:
                log(f"  backfill not measured: {error}")
                run.setdefault("not_measured", {})["backfill"] = str(error)[:500]
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
    # SIGTERM (e.g. from a timeout) runs the cleanup that stops every child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except Exception:
        traceback.print_exc()
        close_all()
        sys.exit(1)
