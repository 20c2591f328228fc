#!/usr/bin/env bash
# Installs everything Quartz's main job and tests need on a fresh Debian machine (root).
# Idempotent: each step checks first and does nothing when the tool is already there.
set -euo pipefail

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
need_apt=()
# chromium: the web page's test renders /ui in headless Chromium.
for pair in bwrap:bubblewrap docker-registry:docker-registry skopeo:skopeo umoci:umoci curl:curl jq:jq chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The Debian package starts a registry service on :5000 on machines with systemd; Quartz
# starts its own registries on ephemeral ports, so that one is not needed.

pip_pkgs=()
python3 -c 'import moto, flask_cors' 2>/dev/null && command -v moto_server >/dev/null || pip_pkgs+=("moto[server]")
command -v schemathesis >/dev/null 2>&1 || pip_pkgs+=("schemathesis")
python3 -c 'import grpc, grpc_tools' 2>/dev/null || pip_pkgs+=("grpcio" "grpcio-tools")
command -v cfn-lint >/dev/null 2>&1 || pip_pkgs+=("cfn-lint")
if [ ${#pip_pkgs[@]} -gt 0 ]; then
  log "pip: ${pip_pkgs[*]}"
  pip install -q --disable-pip-version-check "${pip_pkgs[@]}"
fi

foundry=1.7.1
if ! command -v anvil >/dev/null 2>&1 || ! command -v cast >/dev/null 2>&1; then
  log "npm: anvil and cast $foundry"
  npm install -g --silent "@foundry-rs/anvil-linux-amd64@$foundry" "@foundry-rs/cast-linux-amd64@$foundry" >/dev/null
fi
log "ready: $(bwrap --version), $(anvil --version | head -1), moto $(python3 -c 'import moto; print(moto.__version__)')"
