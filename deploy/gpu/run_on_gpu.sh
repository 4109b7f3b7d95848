#!/usr/bin/env bash
# On the GPU machine, from the checkout root: unpacks the pack.tar.xz beside this script (see
# pack.sh; .gpupack/ by default, another .gpupack-NAME/ when several packs share the checkout)
# and runs the GPU tests, the benchmark (+ torch attention reference) and/or the transformers
# comparison. Logs go to $OUT (the device tool brings them back).
#   bash .gpupack/run_on_gpu.sh [tests|bench|hf|profile|profile_prefill|decode|attn|ncu_attn|attn_ab|decode_ab|env_ab|all] ...
set -uo pipefail
OUT=${OUT:-/tmp/corvid-out}
mkdir -p "$OUT"
here=$(cd "$(dirname "$0")" && pwd)
pack=/tmp/corvid-pack-$(basename "$here")
if [ ! -x "$pack/bin/corvid-bench" ] || [ "$here/pack.tar.xz" -nt "$pack/bin" ]; then
  rm -rf "$pack" && mkdir -p "$pack" && xz -dc "$here/pack.tar.xz" | tar -C "$pack" -xf - || exit 1
fi
export LD_LIBRARY_PATH="$pack/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
models_path=$(cat "$pack/models_path")
mkdir -p "$(dirname "$models_path")" && ln -sfn "$pack/models" "$models_path"
echo "commit $(cat "$pack/commit"); $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"

run_tests() {
  local failed=0
  for t in "$pack"/bin/gpu_*_test; do
    echo "== $(basename "$t")"
    timeout 180 "$t" --gtest_brief=1 >"$OUT/$(basename "$t").log" 2>&1
    local rc=$?
    tail -n 25 "$OUT/$(basename "$t").log"
    [ $rc -ne 0 ] && failed=1 && echo "!! $(basename "$t") exit $rc"
  done
  return $failed
}

run_bench() {
  timeout 300 "$pack/bin/corvid-bench" --gemm_table --attention_out "$OUT/attn.txt" "$@" 2>&1 |
    tee "$OUT/bench.log"
  python3 "$pack/attention_ref.py" "$OUT/attn.txt" 2>&1 | tee -a "$OUT/bench.log"
}

# Nsight Compute on one launch of each prefill attention shape of the attention benchmark
# (--launch-skip picks the first timed launch of the 1x8192 case by default).
run_profile_prefill() {
  local ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null)
  timeout 300 "$ncu" --clock-control none -k regex:PrefillAttentionKernel \
    --launch-skip "${NCU_SKIP:-69}" --launch-count "${NCU_COUNT:-1}" \
    --section SpeedOfLight --section Occupancy --section WarpStateStats \
    --section InstructionStats --section ComputeWorkloadAnalysis \
    "$pack/bin/corvid-bench" --model=false "$@" 2>&1 | tee "$OUT/profile_prefill.log"
}

# Per-kernel device time of a few decode steps at each batch size (ncu, one metric, no clock or
# cache control), summarised by ncu_summary.py. Extra arguments go to corvid-bench.
run_profile() {
  local b steps=2 ncu
  ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -n 1)
  for b in ${PROFILE_BATCHES:-1 32}; do
    timeout 300 "$ncu" --profile-from-start off --clock-control none --cache-control none \
      --metrics gpu__time_duration.sum --csv --log-file "$OUT/ncu_b$b.csv" \
      "$pack/bin/corvid-bench" --batches "$b" --attention=false --also_fast=false \
      --profile_steps $steps "$@" > "$OUT/profile_b$b.log" 2>&1
    echo "== profile batch $b (rc $?)"
    tail -n 3 "$OUT/profile_b$b.log"
    python3 "$pack/ncu_summary.py" "$OUT/ncu_b$b.csv" $steps 2>&1 | head -n 40 | tee -a "$OUT/profile.txt"
  done
}

# Decode table only (no attention kernels, no torch, invariant mode): for A/B runs under
# different environments, e.g. CORVID_PDL=0 (no programmatic dependent launch).
run_decode() {
  timeout 300 "$pack/bin/corvid-bench" --attention=false --also_fast=false "$@" 2>&1 |
    tee -a "$OUT/decode.log" | grep -A20 "^ batch"
}

# The attention kernels alone (no model), then torch SDPA on the same shapes.
run_attn() {
  timeout 120 "$pack/bin/corvid-bench" --model=false --attention_out "$OUT/attn.txt" > "$OUT/attn.log" 2>&1
  echo "== attention (rc $?)"; grep -E "decode|prefill" "$OUT/attn.txt"
  timeout 120 python3 "$pack/attention_ref.py" "$OUT/attn.txt" 2>&1 | tee -a "$OUT/attn_ref.log"
}

# Nsight Compute stall profile of one decode attention launch at 32x640 (the attention
# benchmark's 6th launch of that case).
run_ncu_attn() {
  local v ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -n 1)
  for v in mma; do
    timeout 120 "$ncu" --clock-control none -k regex:'DecodeAttentionMma' \
      --launch-skip "${NCU_SKIP:-38}" --launch-count 1 --section SpeedOfLight --section Occupancy \
      --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
      "$pack/bin/corvid-bench" --model=false > "$OUT/ncu_attn_$v.log" 2>&1
    echo "== ncu $v (rc $?)"
    grep -E "Duration|Memory Throughput|DRAM Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit|Grid Size|Dynamic Shared|Stall|Warp Cycles Per Issued|L2 Hit|Mem Busy|Max Bandwidth" "$OUT/ncu_attn_$v.log" | head -40
  done
}

# Decode attention A/B (s4-attn): the kernels alone for each CORVID_DECODE_ATTN setting in
# ATTN_VARIANTS (default "wide warp4"), then torch SDPA on the same shapes.
run_attn_ab() {
  local v
  for v in ${ATTN_VARIANTS:-wide warp4}; do
    CORVID_DECODE_ATTN=$v timeout 120 "$pack/bin/corvid-bench" --model=false \
      --attention_out "$OUT/attn_$v.txt" > "$OUT/attn_$v.log" 2>&1
    echo "== attention $v (rc $?)"; grep -E "decode" "$OUT/attn_$v.txt"
  done
  timeout 120 python3 "$pack/attention_ref.py" "$OUT/attn_$v.txt" 2>&1 | grep -E "decode|prefill" | tail -n 8
}

# Decode table per CORVID_DECODE_ATTN setting in DECODE_VARIANTS (default "wide warp4").
run_decode_ab() {
  local v
  for v in ${DECODE_VARIANTS:-wide warp4}; do
    echo "== decode $v"
    CORVID_DECODE_ATTN=$v run_decode "$@"
  done
}

# Decode table per environment in AB_VARIANTS (space-separated; each a comma-separated list of
# VAR=value, e.g. "CORVID_L2_PREFETCH=1 CORVID_L2_PREFETCH=0"), ROUNDS times alternated, with
# the GPU-side step phases (CORVID_STEP_TIMING: forward pass, sampling tail) of each run.
run_env_ab() {
  local r v
  for r in $(seq 1 "${ROUNDS:-2}"); do
    for v in ${AB_VARIANTS:-CORVID_L2_PREFETCH=1 CORVID_L2_PREFETCH=0}; do
      echo "== round $r: $v"
      env $(echo "$v" | tr , ' ') CORVID_STEP_TIMING=1 timeout 300 "$pack/bin/corvid-bench" \
        --attention=false --also_fast=false "$@" > "$OUT/ab_${r}_${v//[^A-Za-z0-9_]/_}.log" 2>&1
      grep -E "^ *batch|^ +[0-9]+ +[0-9]|step timing" "$OUT/ab_${r}_${v//[^A-Za-z0-9_]/_}.log"
    done
  done
}
# The synthetic backend tests (batch invariance, chunked prefill, CPU agreement) with the RoPE/KV
# write unfused in every step (CORVID_FUSED_ROPE=0).
run_tests_unfused() {
  CORVID_FUSED_ROPE=0 timeout 120 "$pack/bin/gpu_cuda_backend_test" --gtest_brief=1 \
    --gtest_filter='CudaBackendSynthetic.*' 2>&1 | tail -n 3
}

run_hf() {
  PYTHONUNBUFFERED=1 timeout 500 python3 "$pack/hf_compare.py" "$pack" "$@" 2>&1 | tee "$OUT/hf.log"
}

what=${1:-all}
shift || true
case "$what" in
  tests) run_tests ;;
  bench) run_bench "$@" ;;
  hf) run_hf "$@" ;;
  profile) run_profile "$@" ;;
  profile_prefill) run_profile_prefill "$@" ;;
  decode) run_decode "$@" ;;
  attn) run_attn ;;
  ncu_attn) run_ncu_attn ;;
  attn_ab) run_attn_ab ;;
  decode_ab) run_decode_ab "$@" ;;
  env_ab) run_env_ab "$@" ;;
  tests_unfused) run_tests_unfused ;;
  all) run_tests; run_bench; run_hf ;;
  *) echo "unknown stage $what"; exit 2 ;;
esac
