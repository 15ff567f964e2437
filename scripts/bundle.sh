#!/usr/bin/env bash
# Builds dist/armmt-gpu-<version>-linux-x86_64.tar.gz: the release binary with the Swift standard
# library linked statically, plus the shared libraries a GPU box may lack (the OpenCL ICD loader,
# OpenBLAS and its Fortran runtime). The binary finds them through an $ORIGIN-relative DT_RPATH
# (not RUNPATH: only RPATH also applies to OpenBLAS's own dependency on libgfortran), so
# the extracted folder runs from anywhere; only glibc and the GPU vendor's OpenCL driver come
# from the box.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scratch=".build-bundle"
swift build -c release --product armmt-gpu --static-swift-stdlib --scratch-path "$scratch" \
  -Xlinker --disable-new-dtags -Xlinker -rpath -Xlinker '$ORIGIN/../lib'
bin="$scratch/release/armmt-gpu"

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
name="armmt-gpu-$version-linux-$(uname -m)"
stage="dist/$name"
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/lib"
cp "$bin" "$stage/bin/armmt-gpu"

# Every non-glibc library the binary loads, resolved through the build machine's linker path.
libs=$(ldd "$bin" | awk '/=>/ { print $1 " " $3 }' \
  | grep -E '^(libOpenCL|libopenblas|libgfortran|libquadmath|libgcc_s)' || true)
while read -r soname path; do
  [ -n "$soname" ] || continue
  cp -L "$path" "$stage/lib/$soname"
done <<< "$libs"

cat > "$stage/README.txt" <<'TXT'
armmt-gpu portable bundle (x86-64 Linux, glibc 2.36 or newer).

  bin/armmt-gpu info              what devices it sees
  bin/armmt-gpu selftest          check every op on the default device against the CPU reference
  bin/armmt-gpu --help

lib/ holds the OpenCL ICD loader, OpenBLAS and its Fortran runtime; bin/armmt-gpu finds them
by itself. The GPU vendor's OpenCL driver comes from the box. If `info` lists no GPU although
the driver is installed, its .icd file is not registered; point the loader at it:

  mkdir -p ~/icd && echo libnvidia-opencl.so.1 > ~/icd/nvidia.icd
  export OCL_ICD_VENDORS=~/icd

(AMD: libamdocl64.so; Intel: libintelocl.so or libigdrcl.so.)
TXT
tar -C dist -czf "dist/$name.tar.gz" "$name"
echo "dist/$name.tar.gz"
