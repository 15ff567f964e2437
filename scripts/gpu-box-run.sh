#!/usr/bin/env bash
# Runs the GPU-box checks from an extracted bundle (scripts/bundle.sh) and this repository's
# scripts, writing every log to OUT_DIR. Phases can be run one at a time (each stays within a
# few minutes), in any order; all of them when none is named:
#   info      nvidia-smi (read only), clinfo, armmt-gpu info; registers the NVIDIA ICD if needed
#   selftest  armmt-gpu selftest --device opencl (full, JSON and text)
#   tune      armmt-gpu bench kernels --device opencl --op gemm under each of 25 GEMM tilings
#             (ARMMT_OPENCL_GEMM; TUNE_TILINGS="T1 T2 ..." replaces the list), a log each
#             (tune-TILING.log, / as _); tune-summary.txt lists the large square's GFLOP/s per
#             tiling. Unless ARMMT_OPENCL_GEMM was set, the phases after it in the same run use
#             the fastest (written to tune-best.txt); export it yourself for later runs.
#   kernels   armmt-gpu bench kernels --device opencl (and its GEMM rows again with the split over
#             k turned off, ARMMT_OPENCL_GEMM_SPLIT=0), PyTorch's kernels on CUDA (TF32 off, on)
#   train     armmt-gpu bench train --device opencl (and again with the item vectors gathered on
#             the host, ARMMT_OPENCL_ITEM_VECTORS_MIB=0, and with blocking writes,
#             ARMMT_OPENCL_STAGED_WRITES=0), PyTorch's training step on CUDA (TF32 off, on)
#   quality   a 4-epoch ARMMT training run on the default synthetic data set, then eval
# Usage: scripts/gpu-box-run.sh BUNDLE_DIR OUT_DIR [PHASE...]   (tune runs only when named)
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=$(realpath "$1"); out=$(realpath -m "$2"); shift 2
phases=${*:-info selftest kernels train quality}
mkdir -p "$out"
bin="$bundle/bin/armmt-gpu"
export ARMMT_KERNEL_CACHE="$out/kernel-cache"

# The NVIDIA OpenCL driver ships libnvidia-opencl.so.1; when its .icd file is not registered,
# point the ICD loader at a folder that names it.
if ! "$bin" info --json 2>/dev/null | grep -qi nvidia; then
  if ldconfig -p 2>/dev/null | grep -q libnvidia-opencl.so.1 || ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 >/dev/null 2>&1; then
    mkdir -p "$out/icd" && echo libnvidia-opencl.so.1 > "$out/icd/nvidia.icd"
    export OCL_ICD_VENDORS="$out/icd"
    echo "registered libnvidia-opencl.so.1 through OCL_ICD_VENDORS=$OCL_ICD_VENDORS" | tee -a "$out/info.log"
  fi
fi

run() {  # run NAME TIMEOUT_S COMMAND...: logs to $out/NAME.log, never stops the other phases
  local name=$1 limit=$2; shift 2
  echo "== $name: $*" | tee -a "$out/$name.log"
  timeout "$limit" "$@" >>"$out/$name.log" 2>&1
  echo "== $name: exit $?" | tee -a "$out/$name.log"
}

for phase in $phases; do
  case $phase in
    info)
      run info 60 nvidia-smi -q
      run info 60 clinfo
      run info 60 "$bin" info
      "$bin" info --json > "$out/info.json" 2>>"$out/info.log"
      ;;
    selftest)
      run selftest 540 "$bin" selftest --device opencl
      ;;
    tune)
      # Square tiles from 32 to 128 with and without padding, rectangular ones, deeper and
      # shallower reduction steps, 4 to 128 accumulators per work-item, the larger ones again
      # with register double buffering (fourth part 1), and with vector reads of four floats
      # (fifth part 4; their padding must be a multiple of 4).
      default_tilings="32x32x16/2x2/0 64x64x16/4x4/0 64x64x16/4x4/1 64x64x32/4x4/1 64x64x16/8x8/1
        128x64x16/8x4/1 64x128x16/4x8/1 96x96x16/6x6/1 128x128x8/8x8/1 128x128x16/8x8/0
        128x128x16/8x8/1 128x128x32/8x8/1 128x128x16/4x4/1 256x128x8/16x8/1
        64x64x16/4x4/1/1 128x64x16/8x4/1/1 64x128x16/4x8/1/1 128x128x8/8x8/1/1 128x128x16/8x8/1/1
        64x64x16/4x4/4/0/4 128x64x16/8x4/4/0/4 128x128x8/8x8/4/0/4 128x128x16/8x8/4/0/4
        128x128x16/8x8/4/1/4 128x128x32/8x8/4/0/4"
      : > "$out/tune-summary.txt"
      for t in ${TUNE_TILINGS:-$default_tilings}; do
        log="tune-${t//\//_}"   # one log per tiling, so a failed run leaves its own line empty
        ARMMT_OPENCL_GEMM=$t run "$log" 120 "$bin" bench kernels --device opencl --op gemm
        echo "$t $(grep -m1 'large square' "$out/$log.log" | awk '{print $(NF-3), "GFLOP/s"}')" >> "$out/tune-summary.txt"
      done
      sort -k2 -g -r "$out/tune-summary.txt" | head -5
      best=$(sort -k2 -g -r "$out/tune-summary.txt" | awk 'NF >= 3 {print $1; exit}')
      if [ -n "$best" ]; then
        echo "$best" > "$out/tune-best.txt"
        if [ -z "${ARMMT_OPENCL_GEMM:-}" ]; then
          export ARMMT_OPENCL_GEMM=$best
          echo "the phases after tune use ARMMT_OPENCL_GEMM=$best"
        fi
      fi
      ;;
    kernels)
      run kernels 300 "$bin" bench kernels --device opencl
      "$bin" bench kernels --device opencl --json > "$out/kernels.json" 2>>"$out/kernels.log"
      run kernels 120 env ARMMT_OPENCL_GEMM_SPLIT=0 "$bin" bench kernels --device opencl --op gemm
      run kernels 200 python3 scripts/torch_kernels.py --device cuda --tf32 off
      run kernels 200 python3 scripts/torch_kernels.py --device cuda --tf32 on
      ;;
    train)
      for i in 1 2 3; do
        run train 120 "$bin" bench train --device opencl --steps 20
        run train 120 env ARMMT_OPENCL_ITEM_VECTORS_MIB=0 "$bin" bench train --device opencl --steps 20
        run train 120 env ARMMT_OPENCL_STAGED_WRITES=0 "$bin" bench train --device opencl --steps 20
        run train 120 python3 scripts/torch_armmt.py --bench --device cuda --tf32 off --steps 20
        run train 120 python3 scripts/torch_armmt.py --bench --device cuda --tf32 on --steps 20
      done
      ;;
    quality)
      "$bin" data synth --out "$out/synth" > "$out/quality.log" 2>&1
      printf '{"model": {}, "train": {"epochs": 4, "batch_size": 128, "learning_rate": 0.001}}\n' > "$out/quality.json"
      run quality 480 "$bin" train --data "$out/synth" --config "$out/quality.json" --out "$out/quality-run" --device opencl
      run quality 60 "$bin" eval --checkpoint "$out/quality-run/best.safetensors" --data "$out/synth" --split test
      rm -rf "$out/synth"
      ;;
    *) echo "unknown phase: $phase (info selftest tune kernels train quality)" >&2; exit 2 ;;
  esac
done
