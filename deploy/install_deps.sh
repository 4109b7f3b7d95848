#!/usr/bin/env bash
# Installs every Debian package the build and tests need, and the PyPI test references in a venv.
# Idempotent and non-interactive: safe to run on every build.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PKGS=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libsentencepiece-dev sentencepiece
  nlohmann-json3-dev libcpp-httplib-dev prometheus-cpp-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev libomp-dev
  python3 python3-venv python3-pip
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test-only references (Hugging Face tokenizers, sentencepiece, numpy, gRPC tools) in a venv.
VENV=.venv
REQ=deploy/requirements-test.txt
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp="$VENV/.req-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$REQ" "$stamp"; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$REQ"
  cp "$REQ" "$stamp"
fi
echo "install_deps: ok"
