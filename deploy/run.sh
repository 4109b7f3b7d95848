#!/usr/bin/env bash
# The README's run command: set up, build, write the embedded default model, stream a completion.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install_deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target corvid corvid-make-checkpoint
bin=build/default
model=${CORVID_MODEL:-$bin/models/tiny}
if [ ! -f "$model/config.json" ]; then
  "$bin/tools/make_checkpoint/corvid-make-checkpoint" --preset tiny --out "$model"
fi
"$bin/tools/corvid/corvid" generate --model "$model" \
  --prompt "${CORVID_PROMPT:-Once upon a time}" --max-tokens "${CORVID_MAX_TOKENS:-48}" --temperature 0
