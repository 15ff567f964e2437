#!/usr/bin/env bash
# RESULTS.md, synthetic benchmark: full ARMMT, each ablation of ARMMT-SPEC §4, the prm preset,
# at the default data size, 3 seeds each (seed = data-independent: shuffling and initialisation).
# Early stopping and checkpoint selection use the valid split only; test is scored once per run.
# Runs go seed by seed (every config for seed 1 first), so a partial run is still a comparison.
# Usage: scripts/results_synth.sh [OUT_DIR] [SEEDS] [EPOCHS] [LR]   (defaults: runs/synth, "1 2 3", 5, 0.003)
# Then:  python3 scripts/results_table.py OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/synth}
seeds=${2:-1 2 3}
epochs=${3:-5}
lr=${4:-0.003}
bin=${ARMMT_BIN:-.build/release/armmt-gpu}
[ -x "$bin" ] || swift build -c release --product armmt-gpu
mkdir -p "$out"
[ -f "$out/data/schema.json" ] || "$bin" data synth --out "$out/data" --seed 1 >"$out/data.log"

configs=(
  'full|{}'
  'text only|{"modalities": ["text"]}'
  'image only|{"modalities": ["image"]}'
  'no modalities|{"modalities": []}'
  'fusion concat|{"fusion": "concat"}'
  'fusion mean|{"fusion": "mean"}'
  'no behaviour attention|{"behaviour_attention": false}'
  'mpsa single|{"mpsa": "single"}'
  'mpsa off|{"mpsa": "off"}'
  'no interaction|{"interaction": "none"}'
  'no auxiliary task|{"aux_weight": 0}'
  'prm preset|{"preset": "prm"}'
)
for seed in $seeds; do
  for entry in "${configs[@]}"; do
    name=${entry%%|*}
    model=${entry#*|}
    slug=$(echo "$name" | tr ' ' '-')
    # RESULTS_ONLY="full prm-preset ...": just these configs (slugs), e.g. to finish the key rows first.
    if [ -n "${RESULTS_ONLY:-}" ] && [[ " $RESULTS_ONLY " != *" $slug "* ]]; then continue; fi
    run="$out/$slug/seed$seed"
    [ -f "$run.test.json" ] && continue
    mkdir -p "$out/$slug"
    printf '{"model": %s, "train": {"epochs": %s, "batch_size": 128, "learning_rate": %s, "early_stopping": {"metric": "auc", "target": null, "patience": 2}}}\n' \
      "$model" "$epochs" "$lr" > "$out/$slug/config.json"
    rm -rf "$run"
    "$bin" train --data "$out/data" --config "$out/$slug/config.json" --seed "$seed" --out "$run" --device cpu >"$run.log" 2>&1
    "$bin" eval --checkpoint "$run/best.safetensors" --data "$out/data" --split test --json >"$run.test.json.tmp"
    mv "$run.test.json.tmp" "$run.test.json"
    echo "$name seed $seed: $(tail -n 1 "$run.log")"
  done
done
