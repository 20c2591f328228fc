"""Writes BENCHMARKS.md and bench/chart.png from one run's results, and prints the change
against the previous BENCHMARKS.md (whose results are kept in a comment at its end)."""

import json
import re

from lib import ROOT

MARK = "<!-- bench-results "


def previous_results():
    try:
        text = (ROOT / "BENCHMARKS.md").read_text()
    except OSError:
        return None
    m = re.search(re.escape(MARK) + r"(\{.*\}) -->", text)
    return json.loads(m.group(1)) if m else None


def flatten(results, prefix=""):
    out = {}
    for k, v in (results or {}).items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


def print_changes(old, new):
    if not old:
        print("no previous results in BENCHMARKS.md: nothing to compare with")
        return
    before, after = flatten(old.get("results")), flatten(new["results"])
    print(f"change against the previous run ({old.get('date')}, load {old.get('loadavg')}):")
    for key in sorted(after):
        if key in before and before[key]:
            ratio = after[key] / before[key]
            print(f"  {key:48} {before[key]:>12,.2f} -> {after[key]:>12,.2f}  ({(ratio - 1) * 100:+.0f}%)")


def ms(x):
    return "–" if x is None else f"{x:.3f} ms" if x < 1 else f"{x:.2f} ms"


def rps(x):
    return "–" if x is None else f"{x:,.0f}"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def get(d, *path):
    for p in path:
        if not isinstance(d, dict) or str(p) not in d and p not in d:
            return None
        d = d[str(p)] if str(p) in d else d[p]
    return d


def split_errors(results, prefix=""):
    """Takes the runs that failed (dicts holding an `error`) out of results; returns them by path."""
    errors = {}
    for k, v in list(results.items()):
        if isinstance(v, dict) and "error" in v:
            errors[f"{prefix}{k}"] = v["error"]
            del results[k]
        elif isinstance(v, dict):
            errors.update(split_errors(v, f"{prefix}{k}."))
    return errors


def write(run):
    r = run["results"]
    run.setdefault("not_measured", {}).update(split_errors(r))
    lines = [
        "# Benchmarks",
        "",
        f"Written by `bench/run.sh` on {run['date']}: **nproc = {run['nproc']}**, load average at start "
        f"{run['loadavg']}, release builds, everything on loopback with the load generator on the same cores. "
        f"Each figure is the median of {run['rounds']} rounds of {run['seconds']} s; peer and Quartz "
        "alternate round by round. Benchmarks report; tests never assert timings.",
        "",
        f"Peer: {run['peer']}.",
        "",
        "![chart](bench/chart.png)",
        "",
        "## Targets (issue 9)",
        "",
        "| # | measure | target | result | |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} |" for row in targets(r)]
    lines += ["", "## 1. Direct Invoke API (wrk, one write per request)", "",
              "| concurrency | Quartz req/s | p50 | p99 | peer req/s | p50 | p99 | Quartz / peer req/s |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c, row in (r.get("direct") or {}).items():
        q, p = row.get("quartz") or {}, row.get("peer")
        ratio = f"{q['rps'] / p['rps']:.2f}×" if p and q else "–"
        p = p or {}
        lines.append(f"| {c} | {rps(q.get('rps'))} | {ms(q.get('p50'))} | {ms(q.get('p99'))} | "
                     f"{rps(p.get('rps'))} | {ms(p.get('p50'))} | {ms(p.get('p99'))} | {ratio} |")
    lines += task_table("2. Task path: `quartz adapter --local-runtime` → `quartz runtime` (two processes)",
                        r.get("task"))
    lines += task_table("2b. Task path in `quartz up` (the adapter invokes the runtime in-process)",
                        r.get("task_up"))
    lines += extra_sections(r)
    if run.get("not_measured"):
        lines += ["", "## Not measured in this run", "", "| what | why |", "| --- | --- |"]
        lines += [f"| {k} | {str(v).splitlines()[0] if str(v) else ''} |" for k, v in run["not_measured"].items()]
    analysis = ROOT / "bench/analysis.md"
    if analysis.exists():  # hand-written: the profiles of the misses (bench/profile.py)
        lines += ["", analysis.read_text().rstrip()]
    lines += ["", MARK + json.dumps(run, sort_keys=True) + " -->", ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines))


def task_table(title, section):
    if not section:
        return []
    lines = ["", f"## {title}", "",
             "Direct = wrk on the `live` alias of the same function in the same rounds; the hop is the "
             "adapter's p50 minus direct's.", "",
             "| concurrency | direct req/s, p50 | HTTP /perform req/s, p50, p99 | gRPC ExecuteTask req/s, p50, p99 "
             "| hop p50 HTTP / gRPC |", "| --- | --- | --- | --- | --- |"]
    for c, row in section.items():
        d, h, g = row.get("direct"), row.get("http"), row.get("grpc")
        if not (d and h and g):
            continue
        lines.append(f"| {c} | {rps(d['rps'])}, {ms(d['p50'])} | {rps(h['rps'])}, {ms(h['p50'])}, {ms(h['p99'])} | "
                     f"{rps(g['rps'])}, {ms(g['p50'])}, {ms(g['p99'])} | "
                     f"{(h['p50'] - d['p50']) * 1000:.0f} µs / {(g['p50'] - d['p50']) * 1000:.0f} µs |")
    return lines


def extra_sections(r):
    lines = []
    tw = r.get("two_write")
    if tw:
        lines += ["", "## 3. Two-write client (Python http.client, c=16, one process per connection)", "",
                  "| system | req/s | p50 | p99 | max | requests ≥ 30 ms |", "| --- | --- | --- | --- | --- | --- |"]
        for name, v in tw.items():
            lines.append(f"| {name} | {rps(v['rps'])} | {ms(v['p50'])} | {ms(v['p99'])} | {ms(v['max'])} | "
                         f"{v['stalls']:.1f}% |")
    cold = r.get("cold")
    if cold:
        lines += ["", "## 4. Cold start (median)", "", "| system | CreateFunction → first response | "
                  "spawn → first response |", "| --- | --- | --- |",
                  f"| Quartz | {ms(get(cold, 'quartz', 'create_to_response'))} | "
                  f"{ms(get(cold, 'quartz', 'spawn_to_response'))} |"]
        if cold.get("peer"):
            lines.append(f"| peer (`cargo lambda watch` ready → first response) | – | "
                         f"{ms(cold['peer']['spawn_to_response'])} |")
    for key, title in (("release_to_live", "5. Release to live"), ("backfill", "6. Backfill"),
                       ("registry", "7. Registry GET /performers/{avs}/{id}, c=16"), ("memory", "8. Memory of `quartz up`")):
        if r.get(key):
            lines += ["", f"## {title}", "", "| measure | result |", "| --- | --- |"]
            lines += [f"| {k} | {v:,.2f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in r[key].items()]
    rss = r.get("function_rss")
    if rss:
        lines += ["", "## 9. Function process RSS over 100,000 invokes (c=1)", "",
                  "| system | invokes | RSS before | after | growth per invoke |", "| --- | --- | --- | --- | --- |"]
        for name, v in rss.items():
            if v:
                lines.append(f"| {name} | {v['invokes']:,} | {v['before_kb']:,} kB | {v['after_kb']:,} kB | "
                             f"{v['bytes_per_invoke']:.1f} B |")
    return lines


def targets(r):
    rows = []
    q16, p16 = get(r, "direct", 16, "quartz", "rps"), get(r, "direct", 16, "peer", "rps")
    if q16 and p16:
        rows.append((1, "direct invoke req/s at c=16", "≥ 2× peer", f"{q16 / p16:.2f}× ({rps(q16)} vs {rps(p16)})",
                     verdict(q16 >= 2 * p16)))
    q1 = get(r, "direct", 1, "quartz", "p50")
    if q1 is not None:
        rows.append((1, "direct invoke p50 at c=1", "≤ 0.15 ms", ms(q1), verdict(q1 <= 0.15)))
    for section, where in (("task", "adapter process"), ("task_up", "quartz up")):
        for proto in ("http", "grpc"):
            t16 = get(r, section, 16, proto, "rps")
            if t16 and p16:
                rows.append((2, f"{proto} task req/s at c=16 ({where})", "≥ 1.2× peer direct",
                             f"{t16 / p16:.2f}× ({rps(t16)})", verdict(t16 >= 1.2 * p16)))
            hop = get(r, section, 1, proto, "p50")
            if hop is not None:
                hop = (hop - get(r, section, 1, "direct", "p50")) * 1000
                rows.append((2, f"adapter hop ({proto}, {where}) p50 at c=1", "< 100 µs", f"{hop:.0f} µs",
                             verdict(hop < 100)))
    tw = get(r, "two_write", "quartz", "p99")
    if tw is not None:
        rows.append((3, "two-write client p99 at c=16", "< 5 ms", ms(tw), verdict(tw < 5)))
    spawn = get(r, "cold", "quartz", "spawn_to_response")
    if spawn is not None:
        rows.append((4, "spawn → first response", "≤ 20 ms", ms(spawn), verdict(spawn <= 20)))
    live = get(r, "release_to_live", "seconds")
    if live is not None:
        rows.append((5, "release to live", "< 2 s", f"{live:.2f} s", verdict(live < 2)))
    bps = get(r, "backfill", "blocks_per_s")
    if bps is not None:
        rows.append((6, "backfill blocks/s", "≥ 50,000", rps(bps), verdict(bps >= 50000)))
    reg = get(r, "registry", "rps")
    if reg is not None:
        rows.append((7, "registry GET req/s at c=16", "≥ 20,000", rps(reg), verdict(reg >= 20000)))
    idle = get(r, "memory", "idle_rss_mb")
    if idle is not None:
        rows.append((8, "`quartz up` idle RSS", "< 60 MB", f"{idle:.1f} MB", verdict(idle < 60)))
    growth = get(r, "function_rss", "quartz", "bytes_per_invoke")
    if growth is not None:
        rows.append((9, "function RSS growth per invoke", "report", f"{growth:.1f} B", "–"))
    return rows


def chart(run):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = run["results"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    series = {"Quartz direct": ("direct", "quartz"), "peer direct": ("direct", "peer"),
              "Quartz HTTP /perform": ("task", "http"), "Quartz gRPC": ("task", "grpc"),
              "quartz up HTTP /perform": ("task_up", "http"), "quartz up gRPC": ("task_up", "grpc")}
    for label, (section, name) in series.items():
        points = [(int(c), v[name]) for c, v in (r.get(section) or {}).items() if v.get(name)]
        if not points:
            continue
        xs = [c for c, _ in points]
        axes[0].plot(xs, [v["rps"] for _, v in points], marker="o", label=label)
        axes[1].plot(xs, [v["p50"] for _, v in points], marker="o", label=label)
    for ax, title in ((axes[0], "requests/s"), (axes[1], "p50 latency (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrency")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[1].set_yscale("log")
    fig.suptitle(f"Quartz vs cargo-lambda watch — nproc {run['nproc']}, {run['date']}")
    fig.tight_layout()
    fig.savefig(ROOT / "bench/chart.png", dpi=90)
