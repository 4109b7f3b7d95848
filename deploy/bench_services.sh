#!/usr/bin/env bash
# Services-vs-engine benchmark (docs/perf.md): the same model and load through
# corvid-tokenizer + corvid-worker + corvid-scheduler on loopback, and through an Engine in the
# load generator's own process, then an open-loop overload at twice the saturating rate.
#
#   deploy/bench_services.sh BIN_DIR MODEL_DIR OUT_DIR
#
# Phase 1 (throughput): REQUESTS requests all arriving at once, so both systems run with a
# backlog and the ratio measures what the split costs, not a client's round trips (the worker
# holds 2 x MAX_RUNNING requests, the engine's running batch plus a waiting reserve, as the
# in-process engine holds its whole queue). Phase 2 (overload): open loop at the saturating
# request rate measured in phase 1, then at twice it, with the scheduler's queue bounded to
# MAX_RUNNING requests: goodput under SLO_TTFT_MS, and how fast the excess is refused.
#
# BIN_DIR holds corvid-tokenizer, corvid-worker, corvid-scheduler and corvid-loadgen. Knobs
# (environment): THREADS (engine CPU threads, default 4), MAX_RUNNING (32), REQUESTS (1000),
# INPUT_LEN (32), OUTPUT_LEN (64), MIN_STEP_MS (0: the real step time; e.g. 20 emulates a large
# model's decode step), SLO_TTFT_MS (goodput bound, default 500), SLO_TPOT_MS (0: none),
# LAUNCH (a command prefix for every binary, e.g. a carried loader).
set -euo pipefail
bin=$1 model=$2 out=$3
mkdir -p "$out"
threads=${THREADS:-4} running=${MAX_RUNNING:-32} n=${REQUESTS:-1000}
in_len=${INPUT_LEN:-32} out_len=${OUTPUT_LEN:-64} step=${MIN_STEP_MS:-0}
slo_ttft=${SLO_TTFT_MS:-500} slo_tpot=${SLO_TPOT_MS:-0}
launch=${LAUNCH:-}
py=${PYTHON:-python3}
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tp=$(port) wp=$(port) sp=$(port) smp=$(port) wmp=$(port)
load=($launch "$bin/corvid-loadgen" --input-len "$in_len" --output-len "$out_len"
      --slo-ttft-ms "$slo_ttft" --slo-tpot-ms "$slo_tpot")

echo "== baseline: in-process engine, $n requests at once" >&2
"${load[@]}" --engine "$model" --threads "$threads" --max-running "$running" \
  --min-step-ms "$step" --mode open --rate 0 --num-requests "$n" --warmup "$running" \
  --label engine --json-out "$out/engine.json"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait || true; }
trap cleanup EXIT
$launch "$bin/corvid-tokenizer" --model "m=$model" --listen "127.0.0.1:$tp" --metrics-port -1 \
  --workers 2 >"$out/tokenizer.log" 2>&1 &
pids+=($!)
$launch "$bin/corvid-worker" --model "$model" --model-name m --listen "127.0.0.1:$wp" \
  --metrics-port "$wmp" --metrics-host 127.0.0.1 --threads "$threads" --max-running "$running" \
  --max-sequences "$((2 * running))" --min-step-ms "$step" >"$out/worker.log" 2>&1 &
pids+=($!)
sched_pid=
start_scheduler() {  # $1: queue bound (requests)
  if [ -n "$sched_pid" ]; then kill -TERM "$sched_pid"; wait "$sched_pid" || true; fi
  $launch "$bin/corvid-scheduler" --worker "127.0.0.1:$wp" --tokenizer "127.0.0.1:$tp" \
    --listen "127.0.0.1:$sp" --metrics-port "$smp" --metrics-host 127.0.0.1 \
    --max-queued-requests "$1" >>"$out/scheduler.log" 2>&1 &
  sched_pid=$!
  pids+=($sched_pid)
  for i in $(seq 300); do
    "${load[@]}" --target "127.0.0.1:$sp" --num-requests 1 --output-len 1 >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "scheduler did not come up" >&2
  exit 1
}

start_scheduler "$((n + running))"
echo "== services: $n requests at once" >&2
"${load[@]}" --target "127.0.0.1:$sp" --mode open --rate 0 --num-requests "$n" \
  --warmup "$running" --label services --json-out "$out/services.json"
rate=$("$py" -c "import json; print(json.load(open('$out/services.json'))['requests_per_s'])")
start_scheduler "$running"
echo "== services: open loop at the saturating rate ($rate req/s), queue bound $running" >&2
"${load[@]}" --target "127.0.0.1:$sp" --mode open --rate "$rate" --num-requests "$n" \
  --label "open@1x" --json-out "$out/open1x.json"
echo "== services: open loop at twice the saturating rate" >&2
"${load[@]}" --target "127.0.0.1:$sp" --mode open \
  --rate "$("$py" -c "print(2 * $rate)")" --num-requests "$((2 * n))" \
  --label "open@2x" --json-out "$out/open2x.json"

"$py" - "$out" <<'EOF'
import json, sys
d = sys.argv[1]
e, s, o1, o2 = (json.load(open(f"{d}/{k}.json")) for k in ("engine", "services", "open1x", "open2x"))
rep = {
    "throughput_ratio": s["output_tokens_per_s"] / e["output_tokens_per_s"],
    "added_itl_p50_ms": s["itl_ms"]["p50"] - e["itl_ms"]["p50"],
    "added_ttft_p50_ms": s["ttft_ms"]["p50"] - e["ttft_ms"]["p50"],
    "goodput_2x_over_1x": o2["goodput_requests_per_s"] / max(o1["goodput_requests_per_s"], 1e-9),
    "rejections_2x": o2["errors_by_code"],
    "rejection_p99_ms_2x": o2["rejection_ms"]["p99"],
}
json.dump(rep, open(f"{d}/report.json", "w"), indent=2)
print(json.dumps(rep, indent=2))
EOF
