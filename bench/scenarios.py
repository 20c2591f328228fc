"""Backfill (measure 6) through scripts/bench-monitor.sh."""

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

