#!/usr/bin/env bash
# On the GPU machine, from the checkout root: unpacks the services.tar.xz beside this script (see
# pack_services.sh) and runs deploy/bench_services.sh from the pack with the CUDA backend:
#   bash .gpupack-NAME/run_services_on_gpu.sh [VAR=VALUE...]
# VAR=VALUE pairs set the benchmark's environment (MODELS, REPEATS, N_LARGE, ENGINE_EXTRA...;
# see deploy/bench_services.sh); BACKEND defaults to cuda here; TAG names this run's files.
# Results (the summary and every loadgen JSON and service log, as one archive) go to $OUT as
# TAG_summary.txt, TAG_summary.json and TAG_results.tgz.
set -uo pipefail
OUT=${OUT:-/tmp/corvid-out}
mkdir -p "$OUT"
here=$(cd "$(dirname "$0")" && pwd)
pack=/tmp/corvid-svcpack-$(basename "$here")
if [ ! -x "$pack/bin/corvid-worker" ] || [ "$here/services.tar.xz" -nt "$pack/bin" ]; then
  rm -rf "$pack" && mkdir -p "$pack" && xz -dc "$here/services.tar.xz" | tar -C "$pack" -xf - ||
    exit 1
fi
export LD_LIBRARY_PATH="$pack/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export CORVID_BIN_DIR=$pack/bin CORVID_TEST_MODELS_DIR=$pack/models
export CORVID_COMMIT=$(cat "$pack/commit") BACKEND=${BACKEND:-cuda}
for kv in "$@"; do export "${kv?}"; done
echo "commit $CORVID_COMMIT; $(nvidia-smi --query-gpu=name,memory.total,driver_version \
  --format=csv,noheader); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo)"
tag=${TAG:-bench}
res=/tmp/corvid-bench-services-$tag
rm -rf "$res"
OUT=$res bash "$pack/deploy/bench_services.sh"
rc=$?
cp "$res/summary.txt" "$OUT/${tag}_summary.txt" 2>/dev/null
cp "$res/summary.json" "$OUT/${tag}_summary.json" 2>/dev/null
# Every loadgen report and service log, without the model weights.
tar -C "$res" --exclude=models -czf "$OUT/${tag}_results.tgz" . 2>/dev/null
exit $rc
