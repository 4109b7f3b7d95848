#!/usr/bin/env bash
# Packs the three services, the load generator (and its in-process baseline) and the checkpoint
# writer, built with CUDA *and* services, for the GPU machine: stripped binaries, the
# non-system shared libraries they load (gRPC, protobuf, Abseil, SentencePiece,
# prometheus-cpp...; the machine has glibc, libstdc++ and CUDA of its own), the real
# stories260K and the Llama 2/3 tokenizers, and the benchmark scripts. Into the folder $1
# (default: this checkout's git-ignored .gpupack-services/; from a worktree, a .gpupack-NAME/
# of the main checkout, which the device tool sends: name it in `carry`). Then, there:
#   bash .gpupack-NAME/run_services_on_gpu.sh [ENV=VALUE...]   (see that script)
# Uses this checkout's build/default (CUDA auto-enabled, services ON), building only the five
# targets.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$src/.gpupack-services}
models=${CORVID_TEST_MODELS_DIR:-/work/shared/models}
cd "$src"
cmake --preset default -DCORVID_BUILD_SERVICES=ON -DCORVID_TEST_MODELS_DIR="$models" >/dev/null
bins="corvid-tokenizer corvid-worker corvid-scheduler corvid-loadgen corvid-make-checkpoint"
cmake --build --preset default -j2 --target $bins

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/models/tokenizers" "$stage/deploy"
b=build/default
cp $b/services/tokenizer/corvid-tokenizer $b/services/worker/corvid-worker \
   $b/services/scheduler/corvid-scheduler $b/services/loadgen/corvid-loadgen \
   $b/tools/make_checkpoint/corvid-make-checkpoint "$stage/bin/"
# SCHEDULER_ALT=PATH: another corvid-scheduler build (same libraries), packed as
# corvid-scheduler-alt for an A/B on one machine (bench_services.sh's SCHEDULER_BIN_ALT).
if [ -n "${SCHEDULER_ALT:-}" ]; then cp "$SCHEDULER_ALT" "$stage/bin/corvid-scheduler-alt"; fi
strip "$stage"/bin/*
# The worker must carry the CUDA backend: a build without it would silently serve on the CPU.
ldd "$stage/bin/corvid-worker" | grep -q 'libcudart\|libcublas' ||
  { echo "corvid-worker is not linked with CUDA: configure with nvcc available" >&2; exit 1; }
ldd "$stage"/bin/* | awk '/=> \// {print $3}' | sort -u |
  grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt)\.so' |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
cp -r "$models/stories260K" "$stage/models/"
cp -r "$models/tokenizers/llama2" "$models/tokenizers/llama3" "$stage/models/tokenizers/"
cp deploy/bench_services.sh deploy/bench_services_summary.py "$stage/deploy/"
git rev-parse --short HEAD > "$stage/commit"
mkdir -p "$dest"
rm -f "$dest/services.tar.xz"
tar -C "$stage" -cf - . | xz -T2 -6 > "$dest/services.tar.xz"
cp deploy/gpu/run_services_on_gpu.sh "$dest/"
du -sh "$stage" "$dest"
