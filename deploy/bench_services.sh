#!/usr/bin/env bash
# The services benchmark: the in-process engine against corvid-tokenizer + corvid-worker +
# corvid-scheduler on loopback, same model, same engine settings, same load (corvid-loadgen).
#
# Per model:
#  (a) closed loop at CONCURRENCY, REPEATS times, in-process and services interleaved (a shared
#      machine's load drifts; interleaving exposes both to it alike): output-throughput ratio
#      (target >= 0.95) and added ITL p50 (target <= 0.5 ms), medians over the repeats.
#  (a2) the same, but every request sent at once (a backlog): the split's cost with the engine
#      never short of work, whatever the client's round trips.
#  (b) the saturating request rate (closed loop at 2 x MAX_RUNNING, the worker's capacity), then
#      open loop (Poisson) at 1x and OVERLOAD x that rate with a QUEUE_LIMIT-deep scheduler
#      queue and a per-request deadline: goodput ratio, rejection latency p99, and the admitted
#      requests' p99 TTFT against their deadline.
# Builds what it needs, stops everything it started, prints a summary table (also written to
# $OUT/summary.txt and summary.json).
#
# Environment (defaults in brackets): CORVID_BUILD_DIR [build/default], CORVID_CMAKE_ARGS (used
# only when the build folder is not configured yet), CORVID_TEST_MODELS_DIR [the build's, else
# ../shared/models], MODELS [stories260K llama2c-15m], THREADS [1], CONCURRENCY [8],
# MAX_RUNNING [16], QUEUE_LIMIT [8], OVERLOAD [2], REPEATS [3], PROMPT_LEN [32],
# OUTPUT_LEN [64], N_SMALL [1024] / N_LARGE [96] (closed-loop requests for stories260K / the
# others), OPEN_S [10], DEADLINE_MS / SLO_TTFT_MS / SLO_TPOT_MS [derived from the
# saturation run], MIN_STEP_MS [0: pace engine steps to at least this, emulating a slower
# device's step with the CPU left free], OUT [$CORVID_BUILD_DIR/bench_services],
# BACKEND [cpu; cuda on a GPU node], ENGINE_EXTRA [extra engine flags for the worker and the
# baseline alike, e.g. "--gpu-memory-budget-mb 30000" when both hold a model on one GPU],
# CORVID_BIN_DIR [unset: build; set: a folder holding the five binaries, nothing is built (the
# GPU pack, deploy/gpu/pack_services.sh)], CORVID_COMMIT [for the summary when there is no git],
# CLIENT_EXTRA [extra corvid-loadgen flags for the runs through the services, e.g. "--channels 8"],
# MODELS_DIR [$OUT/models: where written checkpoints go; share one between runs to write them
# once], PHASES ["a a2 b"; e.g. "b" for the overload phase alone], SCHEDULER_BIN_ALT [another
# corvid-scheduler binary to run instead, e.g. an older build for an A/B on one machine].
# In phase (b) the scheduler serves /metrics: its rejection-latency histogram (arrival to status,
# by the thread that decided) is read after each open-loop run into b_open_Fx_server.txt.
#
# Models: stories260K (the real one), llama2c-15m (random weights, Llama 2 tokenizer),
# llama-3.2-1b and llama-3-8b (random bf16 weights written here by corvid-make-checkpoint, the
# real Llama 3 tokenizer installed: a device-bound step on a GPU).
#
# On a machine shared with other work the two modes do not get the same CPU: measured here, the
# in-process engine thread (which never blocks while it has work) waited on the run queue about
# a third of the time and got ~57% of a core, while the worker's engine thread (which blocks
# briefly on its mutex and wakes reactors every step, which CFS's wake-up placement favours) got
# ~95%; the baseline came out starved and the ratio flattered the services. AUTOGROUP_NICE=-10
# runs the benchmark in its own session whose autogroup gets that nice value (needs root), so
# both modes get about a whole core. The summary also prints tokens per CPU second, which does
# not depend on the share.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${AUTOGROUP_NICE:-}" ] && [ -z "${CORVID_BENCH_OWN_SESSION:-}" ]; then
  export CORVID_BENCH_OWN_SESSION=1
  exec setsid -w "$PWD/deploy/bench_services.sh" "$@"
fi
if [ -n "${AUTOGROUP_NICE:-}" ]; then
  echo "$AUTOGROUP_NICE" >/proc/self/autogroup 2>/dev/null ||
    echo "[bench_services] cannot set the autogroup's nice value; running without" >&2
fi
BUILD=${CORVID_BUILD_DIR:-build/default}
MODELS=${MODELS:-"stories260K llama2c-15m"}
THREADS=${THREADS:-1}
CONCURRENCY=${CONCURRENCY:-8}
MAX_RUNNING=${MAX_RUNNING:-16}
QUEUE_LIMIT=${QUEUE_LIMIT:-8}
OVERLOAD=${OVERLOAD:-2}
REPEATS=${REPEATS:-3}
PROMPT_LEN=${PROMPT_LEN:-32}
OUTPUT_LEN=${OUTPUT_LEN:-64}
OPEN_S=${OPEN_S:-10}
OUT=${OUT:-$BUILD/bench_services}
PHASES=${PHASES:-"a a2 b"}

log() { echo "[bench_services] $*" >&2; }

# --- build ------------------------------------------------------------------------------------
if [ -n "${CORVID_BIN_DIR:-}" ]; then
  TOKENIZER_BIN=$CORVID_BIN_DIR/corvid-tokenizer WORKER_BIN=$CORVID_BIN_DIR/corvid-worker
  SCHEDULER_BIN=$CORVID_BIN_DIR/corvid-scheduler LOADGEN=$CORVID_BIN_DIR/corvid-loadgen
  MAKE_CKPT=$CORVID_BIN_DIR/corvid-make-checkpoint
else
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    # shellcheck disable=SC2086
    cmake --preset default ${CORVID_CMAKE_ARGS:-} >/dev/null
  fi
  log "building"
  cmake --build "$BUILD" -j2 --target corvid-tokenizer corvid-worker corvid-scheduler \
    corvid-loadgen corvid-make-checkpoint >/dev/null
  SVC=$BUILD/services
  TOKENIZER_BIN=$SVC/tokenizer/corvid-tokenizer WORKER_BIN=$SVC/worker/corvid-worker
  SCHEDULER_BIN=$SVC/scheduler/corvid-scheduler LOADGEN=$SVC/loadgen/corvid-loadgen
  MAKE_CKPT=$BUILD/tools/make_checkpoint/corvid-make-checkpoint
  if [ -z "${CORVID_TEST_MODELS_DIR:-}" ]; then
    CORVID_TEST_MODELS_DIR=$(sed -n 's/^CORVID_TEST_MODELS_DIR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
  fi
fi
if [ -n "${SCHEDULER_BIN_ALT:-}" ]; then SCHEDULER_BIN=$SCHEDULER_BIN_ALT; fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
MODELS_DIR=${MODELS_DIR:-$OUT/models}
mkdir -p "$MODELS_DIR"
SHARED=${CORVID_TEST_MODELS_DIR:-../shared/models}

# --- models -----------------------------------------------------------------------------------
# Prints the folder of model $1, writing it first when needed.
model_dir() {
  case "$1" in
    stories260K)
      if [ -f "$SHARED/stories260K/config.json" ]; then
        echo "$SHARED/stories260K"
        return
      fi
      log "no real stories260K under $SHARED: writing the synthetic tiny preset instead"
      [ -f "$MODELS_DIR/tiny/config.json" ] ||
        "$MAKE_CKPT" --preset tiny --out "$MODELS_DIR/tiny" >&2
      echo "$MODELS_DIR/tiny" ;;
    llama2c-15m)
      # The preset's vocabulary is Llama 2's 32000 ids, but corvid-make-checkpoint trains a
      # 512-piece tokenizer: random weights would then sample mostly padding ids, which decode
      # to no text and so cost the tokenizer tier next to nothing. stories15M used the Llama 2
      # tokenizer, so install that one (same <unk>/<s>/</s> ids): text as in production.
      local dir=$MODELS_DIR/llama2c-15m
      if [ ! -f "$dir/config.json" ]; then
        "$MAKE_CKPT" --preset llama2c-15m --out "$dir" >&2
      fi
      if [ -f "$SHARED/tokenizers/llama2/tokenizer.model" ]; then
        cp -f "$SHARED/tokenizers/llama2/tokenizer.model" "$dir/tokenizer.model"
      else
        log "no Llama 2 tokenizer under $SHARED: llama2c-15m cannot be served (skipped)"
        return 1
      fi
      echo "$dir" ;;
    llama-3.2-1b|llama-3-8b)
      # Random bf16 weights of the real shape, with the real Llama 3 tokenizer in place of the
      # 512-piece one the tool trains (bos/eos set to Llama 3's), so that detokenization costs
      # what it costs in production.
      local dir=$MODELS_DIR/$1 llama3=$SHARED/tokenizers/llama3
      if [ ! -f "$llama3/tokenizer.json" ]; then
        log "no Llama 3 tokenizer under $SHARED: $1 cannot be served (skipped)"
        return 1
      fi
      if [ ! -f "$dir/config.json" ]; then
        "$MAKE_CKPT" --preset "$1" --out "$dir" >&2
        rm -f "$dir/tokenizer.model" "$dir/special_tokens_map.json"
        cp -f "$llama3/tokenizer.json" "$llama3/tokenizer_config.json" "$dir/"
        python3 -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); \
c.update(bos_token_id=128000, eos_token_id=128001); json.dump(c, open(p, 'w'), indent=2)" \
          "$dir/config.json"
      fi
      echo "$dir" ;;
    *) log "unknown model $1"; return 1 ;;
  esac
}

# --- services ---------------------------------------------------------------------------------
PIDS=()
stop_services() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_services EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The worker holds twice its batch (running + a waiting reserve, so a finished sequence's slot
# refills without a round trip to the scheduler); the in-process engine is capped alike.
HELD=$((2 * MAX_RUNNING))
BACKEND=${BACKEND:-cpu}
# shellcheck disable=SC2206
ENGINE_FLAGS=(--backend "$BACKEND" --threads "$THREADS" --max-running "$MAX_RUNNING"
              --max-sequences "$HELD" --max-batched-tokens 512 --kv-cache-mb 256
              --min-step-ms "${MIN_STEP_MS:-0}" ${ENGINE_EXTRA:-})

# start_services NAME DIR LOGDIR: sets SCHED; PIDS = (tokenizer worker scheduler). The
# scheduler's queue starts deep enough for the backlog runs; restart_scheduler bounds it.
start_services() {
  local name=$1 dir=$2 tok wk
  LOGS=$3
  tok=$(free_port) wk=$(free_port) SCHED_PORT=$(free_port)
  "$TOKENIZER_BIN" --listen "127.0.0.1:$tok" --metrics-port -1 \
    --model "$name=$dir" >"$LOGS/tokenizer.log" 2>&1 &
  PIDS+=($!)
  "$WORKER_BIN" --listen "127.0.0.1:$wk" --metrics-port -1 --model "$dir" \
    --model-name "$name" "${ENGINE_FLAGS[@]}" >"$LOGS/worker.log" 2>&1 &
  PIDS+=($!)
  SCHED_ARGS=(--listen "127.0.0.1:$SCHED_PORT" --metrics-port -1 --worker "127.0.0.1:$wk"
              --tokenizer "127.0.0.1:$tok")
  "$SCHEDULER_BIN" "${SCHED_ARGS[@]}" --max-queued-requests 1000000 \
    >>"$LOGS/scheduler.log" 2>&1 &
  PIDS+=($!)
  SCHED=127.0.0.1:$SCHED_PORT
}

# restart_scheduler QUEUE_LIMIT: the same scheduler (same port) with a bounded queue, serving
# /metrics on $METRICS_PORT.
restart_scheduler() {
  kill -TERM "${PIDS[2]}" && wait "${PIDS[2]}" || true
  METRICS_PORT=$(free_port)
  local args=("${SCHED_ARGS[@]}")
  args[3]=$METRICS_PORT  # after --metrics-port
  "$SCHEDULER_BIN" "${args[@]}" --max-queued-requests "$1" \
    >>"$LOGS/scheduler.log" 2>&1 &
  PIDS[2]=$!
}

# server_rejections BEFORE AFTER: the scheduler's rejection latency between two /metrics
# scrapes (count, p50, p99 and the share within 5 ms per decided_on label; quantiles
# interpolated within buckets), or a note when the scheduler has no such histogram.
server_rejections() {
  python3 - "$1" "$2" <<'PY'
import re, sys
def read(path):
    h = {}
    for line in open(path):
        m = re.match(r'corvid_scheduler_rejection_latency_seconds_bucket\{(.*)\} (\S+)', line)
        if not m: continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        le = float('inf') if labels['le'] == '+Inf' else float(labels['le'])
        h.setdefault(labels.get('decided_on', '?'), {})[le] = float(m.group(2))
    return h
a, b = read(sys.argv[1]), read(sys.argv[2])
if not b: print('server: no rejection_latency histogram (older scheduler)'); sys.exit()
for where in sorted(b):
    cum = sorted((le, n - a.get(where, {}).get(le, 0.0)) for le, n in b[where].items())
    total = cum[-1][1]
    def q(p):
        lo_le, lo_n = 0.0, 0.0
        for le, n in cum:
            if n >= p * total:
                if le == float('inf'): return float('inf')
                return lo_le + (le - lo_le) * ((p * total - lo_n) / max(n - lo_n, 1e-9))
            lo_le, lo_n = le, n
    w5 = sum(n for le, n in cum if abs(le - 5e-3) < 1e-12)
    if total == 0: print('server %s: 0 rejections' % where); continue
    print('server %s: %d rejections, p50 %.3f ms, p99 %.3f ms, within 5 ms %.2f%%'
          % (where, total, 1e3 * q(0.5), 1e3 * q(0.99), 100.0 * w5 / total))
PY
}
scrape() {
  python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen( \
'http://127.0.0.1:$METRICS_PORT/metrics', timeout=10).read().decode())" >"$1" 2>/dev/null ||
    : >"$1"
}

# CPU seconds (user + system) process $1 has used so far.
cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# Runs corvid-loadgen "$@" against the services and writes the CPU seconds each service process
# used meanwhile to $CPU_FILE ("tokenizer worker scheduler").
loadgen_with_cpu() {
  local before=() after=() pid
  for pid in "${PIDS[@]}"; do before+=("$(cpu_s "$pid")"); done
  "$LOADGEN" "$@"
  for pid in "${PIDS[@]}"; do after+=("$(cpu_s "$pid")"); done
  python3 -c "import sys; b=sys.argv[1].split(); a=sys.argv[2].split(); \
print(' '.join('%.3f' % (float(x) - float(y)) for x, y in zip(a, b)))" \
    "${before[*]}" "${after[*]}" >"$CPU_FILE"
}

# jq-less JSON field reader: json_get FILE EXPR (EXPR indexes the parsed object `r`).
json_get() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }

# Flags of the services' client only (e.g. "--channels 8": calls spread over 8 connections).
# shellcheck disable=SC2206
CLIENT_FLAGS=(${CLIENT_EXTRA:-})
LOAD_FLAGS=(--prompt-len "$PROMPT_LEN" --output-len "$OUTPUT_LEN" --temperature 0 --seed 1)

# paired PHASE N LOAD...: in-process then services with the same load, REPEATS times
# interleaved; results in $res/PHASE_{inprocess,services,services_cpu}_R.*
paired() {
  local phase=$1 n=$2 r
  shift 2
  for r in $(seq "$REPEATS"); do
    "$LOADGEN" --in-process --model "$dir" "${ENGINE_FLAGS[@]}" "$@" --num-requests "$n" \
      --warmup "$CONCURRENCY" "${LOAD_FLAGS[@]}" --json "$res/${phase}_inprocess_$r.json" \
      >"$res/${phase}_inprocess_$r.txt"
    CPU_FILE=$res/${phase}_services_cpu_$r.txt loadgen_with_cpu --server "$SCHED" \
      "${CLIENT_FLAGS[@]}" "$@" \
      --num-requests "$n" "${LOAD_FLAGS[@]}" --json "$res/${phase}_services_$r.json" \
      >"$res/${phase}_services_$r.txt"
  done
}

bench_model() {
  local name=$1 dir=$2 n=$3 res=$OUT/$1
  rm -rf "$res" && mkdir -p "$res"
  start_services "$name" "$dir" "$res"
  # Waits for a live worker and warms connections and caches, so that the measured services
  # runs need no warm-up of their own (their CPU accounting then covers the run alone).
  "$LOADGEN" --server "$SCHED" "${CLIENT_FLAGS[@]}" --connect-timeout-s 120 \
    --concurrency "$CONCURRENCY" \
    --num-requests "$((CONCURRENCY * 4))" "${LOAD_FLAGS[@]}" >"$res/warmup.txt"
  if [[ " $PHASES " == *" a "* ]]; then
    log "$name: (a) closed loop, concurrency $CONCURRENCY, $n requests, $REPEATS repeats"
    paired a "$n" --concurrency "$CONCURRENCY"
  fi
  if [[ " $PHASES " == *" a2 "* ]]; then
    log "$name: (a2) backlog: $n requests at once, $REPEATS repeats"
    paired a2 "$n" --rate inf
  fi
  if [[ " $PHASES " != *" b "* ]]; then stop_services; return; fi
  log "$name: (b) saturation: closed loop at concurrency $HELD (the worker's capacity)"
  "$LOADGEN" --server "$SCHED" "${CLIENT_FLAGS[@]}" --concurrency "$HELD" \
    --num-requests "$((n * 2))" \
    --warmup "$HELD" "${LOAD_FLAGS[@]}" --json "$res/b_saturation.json" \
    >"$res/b_saturation.txt"
  local rate e2e tpot deadline slo_ttft slo_tpot
  rate=$(json_get "$res/b_saturation.json" 'r["request_throughput"]')
  e2e=$(json_get "$res/b_saturation.json" 'r["e2e_ms"]["p50"]')
  tpot=$(json_get "$res/b_saturation.json" 'r["tpot_ms"]["p50"]')
  # A deadline of three saturated service times; "good" = waited at most one service time for
  # its first token and decoded at most 2x slower than at saturation.
  deadline=${DEADLINE_MS:-$(python3 -c "print(round(3 * $e2e, 1))")}
  slo_ttft=${SLO_TTFT_MS:-$(python3 -c "print(round($e2e, 1))")}
  slo_tpot=${SLO_TPOT_MS:-$(python3 -c "print(round(2 * $tpot, 3))")}
  echo "$rate $deadline $slo_ttft $slo_tpot" >"$res/b_params.txt"
  restart_scheduler "$QUEUE_LIMIT"
  local f
  scrape "$res/b_metrics_0.txt"
  local prev=$res/b_metrics_0.txt
  for f in 1 "$OVERLOAD"; do
    local r_open
    r_open=$(python3 -c "print($rate * $f)")
    log "$name: (b) open loop at ${f}x saturation = $r_open req/s for $OPEN_S s"
    "$LOADGEN" --server "$SCHED" "${CLIENT_FLAGS[@]}" --connect-timeout-s 120 --rate "$r_open" \
      --duration-s "$OPEN_S" --deadline-ms "$deadline" --slo-ttft-ms "$slo_ttft" \
      --slo-tpot-ms "$slo_tpot" --warmup "$HELD" "${LOAD_FLAGS[@]}" \
      --json "$res/b_open_${f}x.json" >"$res/b_open_${f}x.txt"
    scrape "$res/b_metrics_${f}x.txt"
    server_rejections "$prev" "$res/b_metrics_${f}x.txt" >"$res/b_open_${f}x_server.txt"
    prev=$res/b_metrics_${f}x.txt
    sed 's/^/[bench_services]   /' "$res/b_open_${f}x_server.txt" >&2
  done
  stop_services
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for m in $MODELS; do
  if ! dir=$(model_dir "$m"); then continue; fi
  case "$m" in stories260K) n=${N_SMALL:-1024} ;; *) n=${N_LARGE:-96} ;; esac
  bench_model "$m" "$dir" "$n"
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
{
  python3 deploy/bench_services_summary.py "$OUT" "$OVERLOAD" $MODELS
  for m in $MODELS; do
    for f in 1 "$OVERLOAD"; do
      [ -f "$OUT/$m/b_open_${f}x_server.txt" ] || continue
      python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['errors']; \
print('$m ${f}x client:', {k: (v['count'], v['latency_ms']['p50'], v['latency_ms']['p99']) for k, v in e.items()}, '(count, p50 ms, p99 ms)')" \
        "$OUT/$m/b_open_${f}x.json" 2>/dev/null || true
      sed "s/^/$m ${f}x /" "$OUT/$m/b_open_${f}x_server.txt"
    done
  done
  echo "commit ${CORVID_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')};" \
    "$(nproc) cores; backend $BACKEND ${ENGINE_EXTRA:-}; client ${CLIENT_EXTRA:-default};" \
    "load average before: $LOAD_BEFORE, after: $LOAD_AFTER;" \
    "autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo 'n/a');" \
    "threads $THREADS, concurrency $CONCURRENCY, max running $MAX_RUNNING, held $HELD," \
    "min step ${MIN_STEP_MS:-0} ms," \
    "queue limit $QUEUE_LIMIT, prompt $PROMPT_LEN, output $OUTPUT_LEN tokens"
} | tee "$OUT/summary.txt"
