#!/usr/bin/env bash
# Crash safety of training: kills `armmt-gpu train` with SIGKILL at random moments, resumes it
# with --resume each time, and checks that
#   - after every kill, last.safetensors (and best.safetensors, once there is one) opens and
#     loads (`armmt-gpu eval` on it exits 0): an atomic write is never seen half done;
#   - the checkpoint is at most checkpoint_every steps behind the last step the run printed
#     before it died (nothing older is ever left);
#   - the run, finished after the last resume, ends with every byte of last.safetensors (weights,
#     AdamW moments, state) equal to an uninterrupted run's (CPU backend, deterministic).
# Usage: scripts/crash-resume.sh [path/to/armmt-gpu] [kills (default 3)] [seed (default 1)]
# CI runs the default on a tiny data set with the ARMMT model; raise kills for a longer soak.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-.build/debug/armmt-gpu}")
kills=${2:-3}
RANDOM=${3:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
every=4

"$bin" data synth --out "$work/data" --requests 96 --items 60 --k-max 5 --l-max 4 --text-dim 6 --image-dim 5 \
  --query-dim 4 --users 8 --categories 4 --seed 3 >/dev/null
cat >"$work/config.json" <<EOF
{"model": {"kind": "armmt", "width": 8, "heads": 2, "embedding_width": 3, "cafu_hidden": 6},
 "train": {"epochs": 16, "batch_size": 8, "checkpoint_every": $every, "log_every": 1, "eval_every": 7,
           "early_stopping": {"metric": "auc", "patience": null}, "seed": 4}}
EOF
train=("$bin" train --data "$work/data" --device cpu)

start=$(date +%s%N)
"${train[@]}" --config "$work/config.json" --out "$work/ref" >"$work/ref.log"
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
total=$(grep -o 'done: step [0-9]*' "$work/ref.log" | grep -o '[0-9]*$')
echo "uninterrupted: $total steps in ${full_ms} ms"

readable() {  # a checkpoint that opens and loads into the model
  "$bin" eval --checkpoint "$1" --data "$work/data" --split valid --device cpu >/dev/null 2>"$work/eval.err" || {
    echo "FAIL: $1 is not readable after a kill: $(cat "$work/eval.err")" >&2; exit 1; }
}

checkpoint_step() {  # the "step" metadata of a checkpoint, from its JSON header
  local n
  n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
  # head stops reading once it has the header; tail may then die of SIGPIPE, which is expected.
  { tail -c +9 "$1" || true; } | head -c "$n" | grep -o '"step":"[0-9]*"' | grep -o '[0-9]*'
}

run=$work/run
done_kills=0
attempt=0
while [ "$done_kills" -lt "$kills" ]; do
  attempt=$((attempt + 1))
  if [ -f "$run/last.safetensors" ]; then
    args=(--resume "$run")
  else
    rm -rf "$run"
    args=(--config "$work/config.json" --out "$run")
  fi
  saved=0
  [ -f "$run/last.safetensors" ] && saved=$(checkpoint_step "$run/last.safetensors")
  # Anywhere from start-up to the expected end of what is left: some kills land in a
  # checkpoint write, some before the first checkpoint; rarely the run ends first.
  left_ms=$(( full_ms * (total - saved) / total ))
  "${train[@]}" "${args[@]}" >"$work/out.log" 2>&1 &
  pid=$!
  delay_ms=$(( 50 + RANDOM % (left_ms > 125 ? left_ms * 4 / 5 : 100) ))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    printed=$(grep -o 'step [0-9]*/' "$work/out.log" | tail -n 1 | grep -o '[0-9]*' || echo 0)
    done_kills=$((done_kills + 1))
    if [ -f "$run/last.safetensors" ]; then
      readable "$run/last.safetensors"
      [ -f "$run/best.safetensors" ] && readable "$run/best.safetensors"
      saved=$(checkpoint_step "$run/last.safetensors")
      step_info=${saved:+, checkpoint at step $saved}
      if [ -n "$saved" ] && [ "$printed" -gt 0 ] && [ $((printed - saved)) -gt "$every" ]; then
        echo "FAIL: killed after step $printed but the checkpoint is at step $saved (checkpoint_every $every)" >&2; exit 1
      fi
    else
      step_info=", no checkpoint yet"
    fi
    echo "kill $done_kills: SIGKILL after ${delay_ms} ms, last step printed $printed${step_info:-}"
  else
    wait "$pid" || { echo "FAIL: the run exited with an error:" >&2; cat "$work/out.log" >&2; exit 1; }
    # The run ended first: check its result too, then start a new run to kill.
    cmp -s "$work/ref/last.safetensors" "$run/last.safetensors" ||
      { echo "FAIL: a run that finished after $done_kills kills differs from the uninterrupted run" >&2; exit 1; }
    echo "attempt $attempt: the run finished before the kill at ${delay_ms} ms (bit-identical); starting a new one"
    rm -rf "$run"
  fi
  [ "$attempt" -gt $((kills * 4)) ] && { echo "FAIL: no progress after $attempt attempts" >&2; exit 1; }
done

# Finish the run.
if [ -f "$run/last.safetensors" ]; then
  "${train[@]}" --resume "$run" >"$work/out.log" 2>&1 || { cat "$work/out.log" >&2; exit 1; }
else
  "${train[@]}" --config "$work/config.json" --out "$run" >"$work/out.log" 2>&1 || { cat "$work/out.log" >&2; exit 1; }
fi
if cmp -s "$work/ref/last.safetensors" "$run/last.safetensors"; then
  echo "crash-resume: $done_kills kills, final last.safetensors bit-identical to the uninterrupted run"
else
  echo "FAIL: after $done_kills kills and resumes, last.safetensors differs from the uninterrupted run's" >&2
  cmp "$work/ref/last.safetensors" "$run/last.safetensors" >&2 || true
  exit 1
fi
