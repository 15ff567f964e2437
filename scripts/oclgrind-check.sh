#!/usr/bin/env bash
# Runs `armmt-gpu selftest --quick` on the oclgrind OpenCL simulator and fails on any report:
# out-of-bounds accesses, data races, OpenCL API misuse. oclgrind exits 0 even when it finds
# errors, so its log is what decides. Usage: scripts/oclgrind-check.sh [path/to/armmt-gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug/armmt-gpu}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export ARMMT_KERNEL_CACHE=$(mktemp -d)

# --uninitialized is not enabled yet: see issue notes (reports in the norm/attention reductions
# under investigation). Without -cl-opt-disable oclgrind cannot run that check at all.
set +e
oclgrind --data-races --check-api "$bin" selftest --quick --device opencl >"$log" 2>&1
status=$?
set -e
reports=$(grep -cE '^(Invalid (read|write)|.*data race at|Uninitiali[sz]ed value|Work-group divergence|Oclgrind - |OCLGRIND FATAL)' "$log" || true)
tail -n 2 "$log"
if [ "$status" -ne 0 ] || [ "$reports" -ne 0 ]; then
  grep -A6 -E '^(Invalid (read|write)|.*data race at|Uninitiali[sz]ed value|Work-group divergence|Oclgrind - |OCLGRIND FATAL)' "$log" | head -60 >&2
  echo "oclgrind: $reports report(s), selftest exit $status" >&2
  exit 1
fi
echo "oclgrind: 0 reports"
