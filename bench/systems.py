"""The systems under test: Quartz (runtime, adapter, registry) and the peer (cargo lambda watch),
each started on loopback with ephemeral ports."""

import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lib import PERFORMER, QUARTZ, ROOT, SCRATCH, Proc, free_port, request, wait_http

FNS = "/2015-03-31/functions"
AVS = "0x00000000000000000000000000000000000a11ce"
ADAPTER_FUNCTION = f"avs-{AVS}-opset-0-performer"
TOKEN = "bench-token-0123456789"


def cargo_lambda():
    for candidate in (Path.home() / ".cache/cargo-lambda/bin/cargo-lambda", shutil.which("cargo-lambda")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


class Quartz:
    """docker-registry holding the performer image, `quartz runtime`, and on demand the adapter
    and the registry, all from the release build."""

    def __init__(self):
        port = free_port()
        reg = SCRATCH / "oci"
        reg.mkdir()
        (reg / "config.yml").write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {reg}/data\n"
            f"http:\n  addr: 127.0.0.1:{port}\n  secret: bench\n")
        self.oci = Proc("docker-registry", ["docker-registry", "serve", str(reg / "config.yml")])
        self.oci_host = f"127.0.0.1:{port}"
        wait_http(f"http://{self.oci_host}", "/v2/")
        pushed = Proc("package", [str(QUARTZ), "package", "--binary", str(PERFORMER), "--push",
                                  f"{self.oci_host}/performer:bench", "--insecure"])
        pushed.p.wait(120)
        self.image = pushed.wait_line(r"\S+@sha256:[0-9a-f]{64}").group(0)
        self.config = SCRATCH / "quartz.toml"
        self.config.write_text(
            f'[runtime]\nallowed_registries = ["{self.oci_host}"]\ninsecure_registries = ["{self.oci_host}"]\n'
            "default_concurrency = 16\n")
        self.data = SCRATCH / "quartz-data"
        self.runtime = self.quartz("runtime", "runtime", "--listen", "127.0.0.1:0")
        self.endpoint = self.runtime.wait_line(r"listening on (http://\S+)").group(1)
        self.adapter = self.registry = None

    def quartz(self, name, *args):
        return Proc(name, [str(QUARTZ), "--config", str(self.config), "--data-dir", str(self.data), *args])

    def create(self, name, wait_active=True):
        status, _, body = request(self.endpoint, "POST", FNS, {"FunctionName": name, "PackageType": "Image",
                                                              "Code": {"ImageUri": self.image}})
        assert status == 201, (status, body)
        while wait_active:
            _, _, conf = request(self.endpoint, "GET", f"{FNS}/{name}/configuration")
            if conf["State"] == "Active":
                break
            assert conf["State"] != "Failed", conf
            time.sleep(0.002)

    def invoke_path(self, name, qualifier=None):
        return f"{FNS}/{name}/invocations" + (f"?Qualifier={qualifier}" if qualifier else "")

    def invoke(self, name, qualifier=None):
        status, headers, body = request(self.endpoint, "POST", self.invoke_path(name, qualifier), {**EVENT_SMALL})
        assert status == 200 and "X-Amz-Function-Error" not in headers, (status, body)
        return body

    def function_pid(self):
        return self.runtime.p.pid

    def start_adapter(self):
        self.create(ADAPTER_FUNCTION)
        status, _, version = request(self.endpoint, "POST", f"{FNS}/{ADAPTER_FUNCTION}/versions", {})
        assert status == 201, version
        status, _, alias = request(self.endpoint, "POST", f"{FNS}/{ADAPTER_FUNCTION}/aliases",
                                   {"Name": "live", "FunctionVersion": version["Version"]})
        assert status == 201, alias
        self.adapter = self.quartz("adapter", "adapter", "--listen", "127.0.0.1:0", "--avs-address", AVS,
                                   "--operator-set-id", "0", "--local-runtime", self.endpoint)
        self.adapter_url = self.adapter.wait_line(r"listening on (http://\S+)").group(1)
        wait_http(self.adapter_url, "/health")

    def start_registry(self):
        self.registry = self.quartz("registry", "registry", "--listen", "127.0.0.1:0", "--token", TOKEN,
                                    "--lambda-endpoint", self.endpoint)
        self.registry_url = self.registry.wait_line(r"listening on (http://\S+)").group(1)
        wait_http(self.registry_url, "/healthz")
        status, _, body = request(self.registry_url, "PUT", f"/performers/{AVS}/0",
                                  {"functionName": ADAPTER_FUNCTION, "releaseId": 1},
                                  headers={"authorization": f"Bearer {TOKEN}"})
        assert status in (200, 201), (status, body)


EVENT_SMALL = {"avsAddress": AVS, "operatorSetId": 0, "taskId": "b",
               "payload": {"operation": "compute", "params": {"a": 2, "b": 3}}}


PEER_DIR = Path.home() / ".cache/quartz-bench-peer"
PEER_MANIFEST = """[package]
name = "performer"
version = "0.0.0"
edition = "2024"
publish = false

# Its own workspace: inside Quartz's, `cargo lambda watch` rebuilt the function on every
# instance spawn, which is not what a user of the emulator sees.
[workspace]

[dependencies]
base64 = "0.22"
lambda_runtime = { version = "1.5", default-features = false }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tokio = { version = "1", features = ["rt", "macros", "time"] }
"""


def peer_project():
    """A standalone copy of examples/performer (the same source, the same locked versions),
    built once in release so that `cargo lambda watch` only runs it."""
    src = PEER_DIR / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "examples/performer/src", src)
    (PEER_DIR / "Cargo.toml").write_text(PEER_MANIFEST)
    if not (PEER_DIR / "Cargo.lock").exists():
        shutil.copy(ROOT / "Cargo.lock", PEER_DIR / "Cargo.lock")
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=PEER_DIR, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": str(PEER_DIR / "target")})
    return PEER_DIR


class Peer:
    """cargo-lambda's local emulator running the same example performer."""

    def __init__(self, binary, warm=0):
        self.binary = binary
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = Proc("cargo-lambda-watch", [binary, "lambda", "watch", "--release", "--ignore-changes",
                                                "-A", "127.0.0.1", "-P", str(self.port), "--concurrency", "16"],
                         cwd=PEER_DIR,
                         env={"CARGO_TARGET_DIR": str(PEER_DIR / "target"),
                              "RUST_LOG": "error", "PERFORMER_VERSION": "peer"})
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                request(self.endpoint, "GET", "/", timeout=2)
                break
            except OSError:
                if self.proc.p.poll() is not None:
                    raise RuntimeError("cargo lambda watch exited:\n" + self.proc.err.read_text()[-3000:])
                time.sleep(0.05)
        if warm:
            self.warm(warm)

    def warm(self, instances):
        """Starts `instances` function processes (one per concurrent request) and waits until
        each answers, so that measurements see a warm emulator."""
        with ThreadPoolExecutor(instances) as pool:
            for _ in range(3):
                list(pool.map(lambda _: self.invoke(), range(instances)))

    def invoke_path(self, name="performer", qualifier=None):
        return f"{FNS}/{name}/invocations"

    def invoke(self):
        status, headers, body = request(self.endpoint, "POST", self.invoke_path(), {**EVENT_SMALL}, timeout=600)
        assert status == 200 and "X-Amz-Function-Error" not in headers, (status, body)
        return body

    def function_pid(self):
        return self.proc.p.pid

    def close(self):
        self.proc.close()


def peer_or_none(log):
    binary = cargo_lambda()
    if binary is None:
        log("PEER SKIPPED: cargo-lambda not found at ~/.cache/cargo-lambda/bin/cargo-lambda or on PATH; "
            "install it with `cargo install cargo-lambda --locked --root ~/.cache/cargo-lambda` "
            "(about 16 minutes) to measure the peer")
        return None
    if os.environ.get("BENCH_NO_PEER"):
        log("PEER SKIPPED: BENCH_NO_PEER is set")
        return None
    log("  building the peer's function (standalone copy of examples/performer)...")
    peer_project()
    return Peer(binary, warm=16)
