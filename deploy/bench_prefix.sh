#!/usr/bin/env bash
# Prefix-caching benchmark (docs/perf.md, "Prefix caching and prefix-affinity routing"): a
# shared-prefix workload (FAMILIES system prompts of PREFIX tokens, each request one of them plus
# a unique TAIL, OUTPUT tokens out, closed loop CONCURRENCY) on the 15M preset, CPU backend:
#   1. the in-process engine with prefix caching off / on;
#   2. scheduler + tokenizer + two workers: caching off; caching on with least-loaded routing
#      (--prefix-affinity=false); caching on with prefix affinity.
# Prints one line per run (TTFT p50/p90, output tok/s, the workers' prefix-cache hit ratio).
# Env: BUILD [build/cpu], OUT [/tmp/corvid-bench-prefix], N [64], CONCURRENCY [8],
# FAMILIES [4], PREFIX [176], TAIL [16], OUTPUT [32], THREADS [1] (per worker / engine),
# KV_BLOCKS [0: 256 MiB] (per worker / engine; small enough and the families compete for it),
# CORVID_TEST_MODELS_DIR (for the Llama 2 tokenizer the services need to detokenize).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/cpu}
OUT=${OUT:-/tmp/corvid-bench-prefix}
N=${N:-64} CONCURRENCY=${CONCURRENCY:-8} FAMILIES=${FAMILIES:-4}
PREFIX=${PREFIX:-176} TAIL=${TAIL:-16} OUTPUT=${OUTPUT:-32} THREADS=${THREADS:-1}
SHARED=${CORVID_TEST_MODELS_DIR:-../shared/models}
SVC=$BUILD/services
LOADGEN=$SVC/loadgen/corvid-loadgen
mkdir -p "$OUT"

dir=$OUT/llama2c-15m
if [ ! -f "$dir/config.json" ]; then
  "$BUILD/tools/make_checkpoint/corvid-make-checkpoint" --preset llama2c-15m --out "$dir" >&2
fi
# The preset samples any of Llama 2's 32000 ids; its tokenizer decodes them all.
cp -f "$SHARED/tokenizers/llama2/tokenizer.model" "$dir/tokenizer.model"

python3 - "$OUT/workload.jsonl" "$N" "$FAMILIES" "$PREFIX" "$TAIL" "$OUTPUT" <<'EOF'
import json, random, sys
path, n, families, prefix, tail, output = sys.argv[1], *map(int, sys.argv[2:])
rng = random.Random(7)
systems = [[1] + [rng.randrange(3, 32000) for _ in range(prefix - 1)] for _ in range(families)]
with open(path, "w") as f:
    for i in range(n):
        ids = systems[rng.randrange(families)] + [rng.randrange(3, 32000) for _ in range(tail)]
        f.write(json.dumps({"prompt_token_ids": ids, "max_tokens": output}) + "\n")
EOF

ENGINE=(--threads "$THREADS" --max-running 16 --max-sequences 32 --max-batched-tokens 512
        --kv-cache-mb 256 --kv-blocks "${KV_BLOCKS:-0}")
LOAD=(--workload "$OUT/workload.jsonl" --concurrency "$CONCURRENCY" --num-requests "$N"
      --temperature 0 --ignore-eos --seed 1)

summary() {  # summary LABEL JSON [HIT_RATIO]
  python3 - "$@" <<'EOF'
import json, sys
label, path = sys.argv[1], sys.argv[2]
hit = sys.argv[3] if len(sys.argv) > 3 else "-"
r = json.load(open(path))
def find(o, *names):
    for k in names:
        if isinstance(o, dict) and k in o:
            o = o[k]
        else:
            return None
    return o
ttft = find(r, "ttft_ms") or {}
print(f"{label:44s} ttft_p50_ms={ttft.get('p50', float('nan')):8.1f} "
      f"ttft_p90_ms={ttft.get('p90', float('nan')):8.1f} "
      f"out_tok_s={r['output_throughput']:8.1f} "
      f"ok={r['succeeded']}/{r['sent']} hit_ratio={hit}")
EOF
}

echo "# commit $(git rev-parse --short HEAD), $(date -u +%F), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for caching in false true; do
  "$LOADGEN" --in-process --model "$dir" "${ENGINE[@]}" --enable-prefix-caching="$caching" \
    "${LOAD[@]}" --warmup "$CONCURRENCY" --json "$OUT/inprocess_$caching.json" \
    >"$OUT/inprocess_$caching.txt"
  summary "in-process, prefix caching $caching" "$OUT/inprocess_$caching.json"
done

PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_all EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
metric() {  # metric PORT NAME
  curl -s "127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

# services CACHING AFFINITY LABEL
services() {
  local tok w0 w1 m0 m1 sched
  tok=$(port) w0=$(port) w1=$(port) m0=$(port) m1=$(port) sched=$(port)
  "$SVC/tokenizer/corvid-tokenizer" --listen "127.0.0.1:$tok" --metrics-port -1 \
    --model "llama2c-15m=$dir" >"$OUT/tokenizer.log" 2>&1 &
  PIDS+=($!)
  for w in "$w0:$m0" "$w1:$m1"; do
    "$SVC/worker/corvid-worker" --listen "127.0.0.1:${w%%:*}" --metrics-port "${w##*:}" \
      --model "$dir" --model-name llama2c-15m --backend cpu "${ENGINE[@]}" \
      --enable-prefix-caching="$1" >>"$OUT/worker.log" 2>&1 &
    PIDS+=($!)
  done
  "$SVC/scheduler/corvid-scheduler" --listen "127.0.0.1:$sched" --metrics-port -1 \
    --worker "127.0.0.1:$w0" --worker "127.0.0.1:$w1" --tokenizer "127.0.0.1:$tok" \
    --prefix-affinity="$2" >>"$OUT/scheduler.log" 2>&1 &
  PIDS+=($!)
  sleep 3  # both workers connected
  "$LOADGEN" --server "127.0.0.1:$sched" "${LOAD[@]}" --json "$OUT/services_$3.json" \
    >"$OUT/services_$3.txt"
  sleep 0.5  # the workers' metrics refresh every 100 ms
  local hit=0 queried=0 m h q
  for m in "$m0" "$m1"; do
    h=$(metric "$m" corvid_worker_prefix_cache_hit_tokens_total)
    q=$(metric "$m" corvid_worker_prefix_cache_queried_tokens_total)
    hit=$(python3 -c "print($hit + ${h:-0})") queried=$(python3 -c "print($queried + ${q:-0})")
  done
  summary "services x2 workers, $3" "$OUT/services_$3.json" \
    "$(python3 -c "print('%.2f' % ($hit / $queried) if $queried else '-')")"
  stop_all
}
services false false "caching off"
services true false "caching on, least loaded"
services true true "caching on, prefix affinity"
