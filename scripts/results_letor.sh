#!/usr/bin/env bash
# RESULTS.md, real data: the prm preset with the list-wise loss on LightGBM's LambdaRank example.
# Validation = the last 20% of rank.train's query groups (scripts/letor_holdout.py); early stopping
# and checkpoint selection look only at it; rank.test is scored once, by the best checkpoint.
# Usage: scripts/results_letor.sh [LETOR_DIR] [OUT_DIR]   (defaults: ../shared/data/lightgbm-lambdarank, runs/letor)
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/data/lightgbm-lambdarank}
out=${2:-runs/letor}
bin=.build/release/armmt-gpu
[ -x "$bin" ] || swift build -c release --product armmt-gpu
rm -rf "$out" && mkdir -p "$out"
python3 scripts/letor_holdout.py "$src/rank.train" "$src/rank.train.query" "$out/split" >/dev/null
"$bin" data import-letor --train "$out/split/train.txt" --train-query "$out/split/train.query" \
  --valid "$out/split/valid.txt" --valid-query "$out/split/valid.query" \
  --test "$src/rank.test" --test-query "$src/rank.test.query" --out "$out/data" >/dev/null
cat > "$out/config.json" <<'JSON'
{"model": {"kind": "armmt", "preset": "prm", "loss": "listwise"},
 "train": {"epochs": 60, "batch_size": 16, "learning_rate": 0.001,
           "early_stopping": {"metric": "ndcg@10", "target": null, "patience": 15}}}
JSON
for seed in 1 2 3; do
  "$bin" train --data "$out/data" --config "$out/config.json" --seed "$seed" --out "$out/seed$seed" --device cpu >"$out/seed$seed.log" 2>&1
  "$bin" eval --checkpoint "$out/seed$seed/best.safetensors" --data "$out/data" --split test --json >"$out/seed$seed.test.json"
done
python3 - "$out" <<'PY'
import json, sys, statistics as st
out = sys.argv[1]
rows = [json.load(open(f"{out}/seed{s}.test.json")) for s in (1, 2, 3)]
def metric(r, k):
    return next(iter(r["targets"].values()))[k]
keys = ["ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10"]
print("| scorer | " + " | ".join(k.upper().replace("NDCG@", "NDCG@") for k in keys) + " |")
print("|---|" + "---|" * len(keys))
vals = {k: [metric(r, k) for r in rows] for k in keys}
print("| ARMMT prm, list-wise (3 seeds, mean ± std) | " + " | ".join(f"{st.mean(v):.4f} ± {st.stdev(v):.4f}" for v in vals.values()) + " |")
PY
