#!/usr/bin/env bash
# Installs every dependency of corates-sync on Debian 12 (as root, or with sudo).
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config clang
  libboost1.81-dev libsqlite3-dev libpq-dev libssl-dev libjwt-dev libcurl4-openssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libargon2-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libvalijson-dev
  chromium
)
# chromium: tests/browser drives stock y-websocket in a real browser (headless).
# Node.js may come from another source that bundles npm (Debian's npm package
# then conflicts with it), so only ask apt for what is actually missing.
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # --no-install-recommends: valijson's package would otherwise pull every JSON library.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node-side tools (real Yjs, the reference for tests and benchmarks), pinned by package-lock.json.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
