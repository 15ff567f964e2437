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
for lib in libOpenCL libopenblas libgfortran; do
  grep "$lib" ldd.txt | grep -q "$dir/$root" || { echo "FAIL: $lib not loaded from the bundle" >&2; exit 1; }
done
grep -q "libswiftCore" ldd.txt && { echo "FAIL: Swift runtime not linked statically" >&2; exit 1; }

export ARMMT_KERNEL_CACHE="$dir/kernel-cache"
"$bin" info
"$bin" selftest --device cpu --quick
if "$bin" info --json | grep -q '"index"'; then
  "$bin" selftest --device opencl --quick
fi
echo "bundle OK: $tarball"
