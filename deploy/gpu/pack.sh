#!/usr/bin/env bash
# Builds the CUDA targets here and packs what the GPU machine needs into one archive, by default
# under this checkout's git-ignored .gpupack/ (or the folder given as $1, e.g. the main
# checkout's .gpupack-NAME/ when working from another worktree: the device tool sends the main
# checkout, so name that folder in `carry`): stripped binaries, the non-system shared libraries
# they load, the stories260K half-precision test models and the GPU-side scripts. Then, on the GPU machine:
#   bash .gpupack/run_on_gpu.sh [tests|bench|hf|all]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$src/.gpupack}
models=${CORVID_TEST_MODELS_DIR:-/work/shared/models}
cd "$src"
cmake --preset default -DCORVID_BUILD_SERVICES=OFF -DCORVID_TEST_MODELS_DIR="$models" >/dev/null
tests=$(cd tests/gpu && ls *_test.cc | sed 's/^/gpu_/; s/\.cc$//')
tools="corvid-bench corvid-cuda-generate corvid-make-checkpoint"
cmake --build --preset default -j2 --target $tools $tests

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/models"
for t in $tests; do cp build/default/tests/gpu/$t "$stage/bin/"; done
cp build/default/tools/bench/corvid-bench build/default/tools/cuda_generate/corvid-cuda-generate \
   build/default/tools/make_checkpoint/corvid-make-checkpoint "$stage/bin/"
strip "$stage"/bin/*
# Shared libraries the GPU machine lacks (it has glibc, libstdc++ and CUDA of its own).
ldd "$stage"/bin/* | awk '/=> \// {print $3}' | sort -u |
  grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt)\.so' |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
for m in stories260K-bf16 stories260K-f16; do cp -r "$models/$m" "$stage/models/"; done
# Optional A/B baseline (run_on_gpu.sh s5_attn / s5_decode): BASELINE_BUILD names another
# checkout's build folder whose corvid-bench and kernel library go under main/.
if [ -n "${BASELINE_BUILD:-}" ]; then
  mkdir -p "$stage/main/bin" "$stage/main/lib"
  cp "$BASELINE_BUILD/tools/bench/corvid-bench" "$stage/main/bin/"
  cp -L "$BASELINE_BUILD/kernels/libcorvid_kernels.so" "$stage/main/lib/"
  strip "$stage/main/bin/corvid-bench"
fi
cp deploy/gpu/run_on_gpu.sh deploy/gpu/hf_compare.py deploy/gpu/attention_ref.py \
   deploy/gpu/ncu_summary.py "$stage/"
echo "$models" > "$stage/models_path"
git rev-parse --short HEAD > "$stage/commit"
mkdir -p "$dest"
rm -f "$dest"/pack.tar.xz
tar -C "$stage" -cf - . | xz -T2 -6 > "$dest/pack.tar.xz"
cp deploy/gpu/run_on_gpu.sh "$dest/run_on_gpu.sh"
du -sh "$dest"
