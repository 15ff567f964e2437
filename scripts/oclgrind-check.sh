#!/usr/bin/env bash
# Runs `armmt-gpu selftest --quick` on the oclgrind OpenCL simulator and fails on any report:
# out-of-bounds accesses, data races, reads of uninitialised memory, OpenCL API misuse. oclgrind
# exits 0 even when it finds errors, so its log is what decides.
# Usage: scripts/oclgrind-check.sh [path/to/armmt-gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug/armmt-gpu}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export ARMMT_KERNEL_CACHE=$(mktemp -d)

# --uninitialized needs -cl-opt-disable: on optimised code oclgrind 21.10 aborts on LLVM's
# `freeze` instruction. The engine works around two flaws of its shadow memory on this platform
# (OclgrindShadowWorkaround in Sources/ARMMTGPU/Runtime/OpenCLContext.swift; reproduction in
# Tests/Scripts/oclgrind_shadow_repro.c); without that, host-side fills and recycled buffers
# show up as false "uninitialized" reports.
# One pass runs every check, its GEMMs in 32 x 32 tiles of 2 x 2 outputs per work-item: wasted
# work at an edge costs simulated time, and this tiling wastes least on the quick shapes. Three
# more run the quick GEMM cases under other tilings (ARMMT_OPENCL_GEMM): the GPU's default (wider
# tiles, padded local rows), a double-buffered one whose shares of a tile do not divide it, and
# that one again with vector reads of four floats. The simulator has one compute unit, so a
# GEMM would never split over k; ARMMT_OPENCL_GEMM_SPLIT=2 makes the one-tile products split.
export ARMMT_OPENCL_GEMM_SPLIT=2
status=0
ARMMT_OPENCL_GEMM=32x32x16/2x2/0 oclgrind --uninitialized --data-races --check-api --build-options -cl-opt-disable \
  "$bin" selftest --quick --device opencl >"$log" 2>&1 || status=$?
for tiling in 64x64x16/4x4/1 24x40x7/4x4/1/1 24x40x7/4x4/4/1/4; do
  ARMMT_OPENCL_GEMM=$tiling oclgrind --uninitialized --data-races --check-api --build-options -cl-opt-disable \
    "$bin" selftest --quick --device opencl --op gemm >>"$log" 2>&1 || status=$?
done
pattern='^(Invalid (read|write)|.*data race at|Uninitiali[sz]ed (value|address)|Controlflow depends on uninitiali[sz]ed|Instruction depends on an uninitiali[sz]ed|Work-group divergence|Oclgrind - |OCLGRIND FATAL)'
reports=$(grep -cE "$pattern" "$log" || true)
grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" || true
if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
  grep -A6 -E "$pattern" "$log" | head -60 >&2
  echo "oclgrind: $reports report(s), selftest exit $status" >&2
  exit 1
fi
echo "oclgrind: 0 reports"
