"""Whole-pipeline measurements: backfill (scripts/bench-monitor.sh), release to live and the
memory of `quartz up` (measures 5, 6 and 8)."""

import json
import os
import re
import subprocess

from lib import QUARTZ, ROOT


def backfill(log):
    """Measure 6: 100,000 blocks holding 1,000 releases on anvil, `quartz monitor` from start to
    caught up."""
    env = {**os.environ, "BLOCKS": os.environ.get("BENCH_BLOCKS", "100000"),
           "RELEASES": os.environ.get("BENCH_RELEASES", "1000"), "QUARTZ_BIN": str(QUARTZ)}
    out = subprocess.run(["bash", str(ROOT / "scripts/bench-monitor.sh")], env=env, capture_output=True,
                         text=True, timeout=900)
    m = re.search(r"BENCHJSON (\{.*\})", out.stdout)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"bench-monitor.sh failed ({out.returncode}): {out.stderr[-2000:]}")
    result = json.loads(m.group(1))
    log("  backfill: " + ", ".join(f"{k} {v:,.0f}" for k, v in result.items()))
    return result


def quartz_up_available():
    from lib import QUARTZ
    return subprocess.run([str(QUARTZ), "up", "--help"], capture_output=True).returncode == 0


def release_to_live(log):
    if not quartz_up_available():
        raise RuntimeError("`quartz up` does not exist in this build")
    raise RuntimeError("not written yet")


def memory(log):
    if not quartz_up_available():
        raise RuntimeError("`quartz up` does not exist in this build")
    raise RuntimeError("not written yet")
