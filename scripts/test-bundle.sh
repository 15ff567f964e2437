#!/usr/bin/env bash
# Extracts the bundle into an empty directory, away from the build tree, and runs it there with
# the build's library paths out of reach: info, the OpenCL self-check, and (once training exists)
# a short training run.
set -euo pipefail
cd "$(dirname "$0")/.."
tarball=${1:-$(scripts/bundle.sh | tail -n 1)}
tarball=$(realpath "$tarball")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
tar -xzf "$tarball"
root=$(ls -d armmt-gpu-*/)
bin="$dir/$root/bin/armmt-gpu"

# The bundled libraries, not the system ones, must be what the binary loads.
env -u LD_LIBRARY_PATH ldd "$bin" | tee ldd.txt
# (grep on files, not pipes: with pipefail, a `grep -q` that stops reading early can fail the pipe.)
for lib in libOpenCL libopenblas libgfortran; do
  grep "$lib" ldd.txt > lib.txt || true
  grep -q "$dir/$root" lib.txt || { echo "FAIL: $lib not loaded from the bundle" >&2; exit 1; }
done
grep -q "libswiftCore" ldd.txt && { echo "FAIL: Swift runtime not linked statically" >&2; exit 1; }

export ARMMT_KERNEL_CACHE="$dir/kernel-cache"
"$bin" info
"$bin" selftest --device cpu --quick
"$bin" info --json > info.json
if grep -q '"index"' info.json; then
  "$bin" selftest --device opencl --quick
fi

# A short training run, evaluation and prediction on a small synthetic data set.
"$bin" data synth --out data --requests 300 --valid-requests 100 --test-requests 100 --items 400 \
  --k-max 8 --l-max 6 --text-dim 16 --image-dim 12 --query-dim 8 >/dev/null
printf '{"model": {"kind": "%s"}, "train": {"epochs": 1, "batch_size": 32}}\n' "${ARMMT_BUNDLE_MODEL:-armmt}" > run.json
"$bin" train --data data --config run.json --out run --device cpu
"$bin" eval --checkpoint run/best.safetensors --data data --split test
"$bin" predict --checkpoint run/best.safetensors --data data --split test --out predictions.csv
test "$(wc -l < predictions.csv)" -gt 1 || { echo "FAIL: predict wrote no rows" >&2; exit 1; }
echo "bundle OK: $tarball"
