"""Process, HTTP and load-generator helpers for the benchmark harness (bench/run.sh)."""

import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/quartz-target"))
QUARTZ = Path(os.environ.get("QUARTZ_BIN", TARGET / "release/quartz"))
PERFORMER = TARGET / "performer-static/x86_64-unknown-linux-gnu/release/performer"
SCRATCH = Path(tempfile.mkdtemp(prefix="quartz-bench-"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process in its own process group, stopped (TERM, then KILL) on close."""

    started = []

    def __init__(self, name, argv, cwd=None, env=None):
        self.name = name
        self.out = SCRATCH / f"{name}.out"
        self.err = SCRATCH / f"{name}.err"
        self.p = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})},
                                  stdout=open(self.out, "w"), stderr=open(self.err, "w"),
                                  start_new_session=True)
        Proc.started.append(self)

    def wait_line(self, pattern, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for path in (self.out, self.err):
                m = re.search(pattern, path.read_text(errors="replace"))
                if m:
                    return m
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: no line matching {pattern!r}; stderr:\n"
                           + self.err.read_text(errors="replace")[-3000:])

    def close(self):
        # SIGTERM to the child only: Quartz stops its function instances itself on SIGTERM.
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        # Whatever the child left behind in its group (the peer's function processes).
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        if self in Proc.started:
            Proc.started.remove(self)


def close_all():
    for proc in reversed(list(Proc.started)):
        proc.close()


def request(base, method, path, body=None, headers=None, timeout=60):
    """One HTTP request; returns (status, headers, parsed JSON or raw bytes)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    conn.request(method, path, body=data, headers={"content-type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        return resp.status, dict(resp.getheaders()), json.loads(raw)
    except ValueError:
        return resp.status, dict(resp.getheaders()), raw


def wait_http(base, path="/", timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            request(base, "GET", path, timeout=2)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{base} did not answer within {timeout} s")


WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50":%d,"p99":%d,"mean":%f}}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def wrk(url, concurrency, seconds, body=None, method="POST"):
    """Runs wrk (each request in one write) and returns req/s, p50 and p99 in ms."""
    script = SCRATCH / f"wrk-{method}.lua"
    lua_body = "nil" if body is None else json.dumps(json.dumps(body))
    script.write_text(WRK_SCRIPT.format(method=method, body=lua_body))
    threads = min(concurrency, 2)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
                          "--timeout", "10s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"WRKJSON (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    r = json.loads(m.group(1))
    if r["errors"] or r["non2xx"]:
        raise RuntimeError(f"wrk against {url}: {r['errors']} socket errors, {r['non2xx']} non-2xx answers")
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "p50": r["p50"] / 1000, "p99": r["p99"] / 1000,
            "requests": r["requests"]}


def grpc_frame(task_id: bytes, payload: bytes) -> bytes:
    """A length-prefixed gRPC message holding TaskRequest{task_id = 1; payload = 2}."""
    def field(number, value):
        return bytes([number << 3 | 2]) + varint(len(value)) + value
    message = field(1, task_id) + field(2, payload)
    return b"\x00" + len(message).to_bytes(4, "big") + message


def varint(n):
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def grpc_ok_count(base):
    """The adapter's count of gRPC tasks that succeeded, from its /metrics."""
    _, _, text = request(base, "GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else str(text)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("quartz_adapter_tasks_total{") and 'protocol="grpc"' in line
               and 'outcome="ok"' in line)


def h2load_grpc(base, concurrency, seconds, payload: bytes, metadata=()):
    """gRPC ExecuteTask load with h2load (one stream per connection), from its per-request log.
    h2load sees HTTP status only, and gRPC errors travel in trailers with status 200, so the
    adapter's own count of successful gRPC tasks must grow by every request h2load made."""
    data = SCRATCH / "grpc.bin"
    data.write_bytes(grpc_frame(b"bench-task", payload))
    log = SCRATCH / "h2load.log"
    log.unlink(missing_ok=True)  # h2load appends to it
    url = base + "/eigenlayer.hourglass.v1.performer.PerformerService/ExecuteTask"
    extra = [arg for key, value in metadata for arg in ("-H", f"{key}: {value}")]
    ok_before = grpc_ok_count(base)
    out = subprocess.run(["h2load", "-c", str(concurrency), "-m", "1", "-t", str(min(concurrency, 2)),
                          "-D", str(seconds), "--warm-up-time", "1", "-d", str(data),
                          "-H", "content-type: application/grpc", "-H", "te: trailers", *extra,
                          "--log-file", str(log), url], capture_output=True, text=True, check=True).stdout
    done = re.search(r"(\d+) succeeded, 0 failed, 0 errored", out)
    if not done:
        raise RuntimeError(f"h2load reported failures:\n{out}")
    ok = grpc_ok_count(base) - ok_before
    if ok < int(done.group(1)):
        raise RuntimeError(f"h2load sent {done.group(1)} gRPC tasks, the adapter counts {ok:.0f} successful")
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    lat = sorted(int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line)
    return {"rps": rps, "p50": pct(lat, 50), "p99": pct(lat, 99)}


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def median_of(runs):
    """The median of each field over repeated runs (the machine is shared and noisy)."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def hwm_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def descendants(pid):
    """Every process below pid (children of every thread, not only of the main one)."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        kids = []
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        out += kids
        pending += kids
    return out


def find_processes(root_pid, names):
    """The descendants of root_pid whose command name is one of names (function processes)."""
    found = []
    for pid in descendants(root_pid):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() in names:
                found.append(pid)
        except OSError:
            pass
    return found
