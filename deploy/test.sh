#!/usr/bin/env bash
# The README's test command: set up, build, and run the whole CPU suite through ctest,
# then the loader tests again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install_deps.sh
jobs=$(nproc)

cmake --preset default >/dev/null
cmake --build --preset default -j "$jobs"
ctest --preset default -LE gpu -j "$jobs"

# Loader/fault tests under sanitizers (only what carries the "asan" label is built and run).
cmake --preset asan -DCORVID_BUILD_SERVICES=OFF >/dev/null
asan_targets=$(cmake --build --preset asan --target help | sed -n 's/^\(engine_[a-z_]*loader[a-z_]*_test\):.*/\1/p; s/^\(engine_[a-z_]*safetensors[a-z_]*_test\):.*/\1/p' | sort -u)
if [ -n "$asan_targets" ]; then
  cmake --build --preset asan -j "$jobs" --target $asan_targets corvid-make-checkpoint
  ctest --preset asan -L asan -j "$jobs"
fi
