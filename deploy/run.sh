#!/usr/bin/env bash
# The README's run command: set up, build, write the embedded default model if missing, start
# corvid-tokenizer + corvid-worker + corvid-scheduler on loopback, wait until each is healthy,
# stream a completion through the public Generation API with `corvid generate --server`, then
# stop the services (SIGTERM: each drains and exits 0).
#
# Environment: CORVID_MODEL (model folder; default: the tiny preset written under build/),
# CORVID_PROMPT, CORVID_MAX_TOKENS, CORVID_PRESET (CMake preset, default "default").
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install_deps.sh
preset=${CORVID_PRESET:-default}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)" \
  --target corvid corvid-make-checkpoint corvid-tokenizer corvid-worker corvid-scheduler
bin=build/$preset
model=${CORVID_MODEL:-$bin/models/tiny}
if [ ! -f "$model/config.json" ]; then
  "$bin/tools/make_checkpoint/corvid-make-checkpoint" --preset tiny --out "$model"
fi
py=.venv/bin/python
[ -x "$py" ] || py=python3

# Free loopback ports, picked by the kernel.
read -r tok_port worker_port sched_port < <("$py" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
logs=$(mktemp -d "${TMPDIR:-/tmp}/corvid-run.XXXXXX")
pids=()
stop_services() {
  local status=0
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
  pids=()
  return $status
}
trap 'stop_services || true; echo "logs: $logs" >&2' EXIT

name=$(basename "$model")
"$bin/services/tokenizer/corvid-tokenizer" --model "$name=$model" \
  --listen "127.0.0.1:$tok_port" --metrics-port -1 >"$logs/tokenizer.log" 2>&1 &
pids+=($!)
"$bin/services/worker/corvid-worker" --model "$model" --model-name "$name" \
  --listen "127.0.0.1:$worker_port" --metrics-port -1 >"$logs/worker.log" 2>&1 &
pids+=($!)
"$bin/services/scheduler/corvid-scheduler" --worker "127.0.0.1:$worker_port" \
  --tokenizer "127.0.0.1:$tok_port" --listen "127.0.0.1:$sched_port" --metrics-port -1 \
  >"$logs/scheduler.log" 2>&1 &
pids+=($!)

# grpc.health.v1.Health/Check with an empty request (= the whole server); SERVING is b"\x08\x01".
"$py" - "$tok_port" "$worker_port" "$sched_port" <<'EOF'
import sys, time
import grpc
deadline = time.time() + 60
for port in sys.argv[1:]:
    last = None
    while True:
        # A fresh channel per try: a channel that failed to connect backs off for seconds.
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                        request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
            try:
                if check(b"", timeout=1) == b"\x08\x01":
                    break
            except grpc.RpcError as e:
                last = e.code()
        if time.time() > deadline:
            sys.exit(f"service on port {port} not healthy after 60 s ({last})")
        time.sleep(0.1)
print("tokenizer, worker and scheduler are SERVING", file=sys.stderr)
EOF

"$bin/tools/corvid/corvid" generate --server "127.0.0.1:$sched_port" \
  --prompt "${CORVID_PROMPT:-Once upon a time}" --max-tokens "${CORVID_MAX_TOKENS:-48}" \
  --temperature 0
trap 'echo "logs: $logs" >&2' EXIT
stop_services
echo "services stopped (exit 0 each)" >&2
