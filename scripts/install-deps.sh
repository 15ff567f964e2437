#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages armmt-gpu builds and tests against, if any is missing.
# Idempotent: with everything present it changes nothing and needs no root.
set -euo pipefail

packages=(pkg-config ocl-icd-opencl-dev opencl-headers libopenblas-dev pocl-opencl-icd clinfo)
[ "${ARMMT_WITH_OCLGRIND:-0}" = 1 ] && packages+=(oclgrind)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == *"install ok installed"* ]] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || {
  echo "error: no Swift toolchain on PATH; install Swift 6 from swift.org (https://www.swift.org/install/linux/)" >&2
  exit 1
}
