#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build in release mode, run the main job.
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
