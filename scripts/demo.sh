#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build in release mode, run the main job:
# device info, the self-check on every device, then ARMMT trained on the built-in synthetic
# benchmark and scored on its test split beside the oracle.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build -c release --product armmt-gpu
bin=".build/release/armmt-gpu"

echo "== armmt-gpu info"
"$bin" info

echo "== self-check on the CPU backend"
"$bin" selftest --device cpu --quick
n=$("$bin" info --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["devices"]))' 2>/dev/null || echo 0)
for ((i = 0; i < n; i++)); do
  echo "== self-check on opencl:$i"
  "$bin" selftest --device "opencl:$i"
done

echo "== training ARMMT on the synthetic e-commerce benchmark (2 epochs, device auto)"
mkdir -p runs/demo
[ -f runs/demo/data/schema.json ] || "$bin" data synth --out runs/demo/data >/dev/null
rm -rf runs/demo/run
"$bin" train --data runs/demo/data --epochs 2 --out runs/demo/run
"$bin" eval --checkpoint runs/demo/run/best.safetensors --data runs/demo/data --split test
