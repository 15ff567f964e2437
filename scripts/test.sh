#!/usr/bin/env bash
# Quick start, command 2: the whole test suite (OpenCL tests run on PoCL when no GPU is present).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# Python side of the data-format tests; they skip cleanly if this fails (e.g. no network).
python3 -m pip install -q numpy safetensors 2>/dev/null || echo "note: numpy/safetensors unavailable; Python interop tests will skip"
swift build --build-tests
# Kernel sanitizer: every op's quick self-check on oclgrind (bounds, races, API misuse).
if command -v oclgrind >/dev/null; then
  scripts/oclgrind-check.sh .build/debug/armmt-gpu
else
  echo "note: oclgrind not installed (ARMMT_WITH_OCLGRIND=1 scripts/install-deps.sh); skipping the kernel sanitizer"
fi
# Crash safety: SIGKILL at random moments, --resume, bit-identical end (about 15 s).
scripts/crash-resume.sh .build/debug/armmt-gpu 3
swift test --disable-swift-testing
