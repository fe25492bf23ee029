#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU and a CUDA pip torch 2.x in python3, with
# what scripts/gpu-bundle.sh prepared (dist/ and .gpu/). One command, under 10 minutes:
#   1. Node from .gpu/node.tar.xz, node_modules from .gpu/node_modules.tar.xz
#   2. the addon built against python3's torch (LIBTORCH_USE_PYTORCH=1), CUDA and NCCL on;
#      kept in build/ between runs on the same machine (GPU_CHECK_REBUILD=1 forces a rebuild)
#   3. the CUDA tests (dist/test/torch/cuda.test.js: cuda, NCCL, pinned memory, torch.cuda), the
#      amp and GradScaler tests (against the machine's Python torch)
#   4. the seed program (ResNet-18, FashionMNIST test split, batch 128, Adam) with
#      ScalingConfig({ useGpu: true }) on one GPU, beside the same program in Python
#      Lightning: images/s of both, and their ratio
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[gpu-check] $(date -u +%H:%M:%S) $*"; }
[ -d .gpu ] && [ -d dist ] || { echo "[gpu-check] .gpu/ or dist/ is missing: run scripts/gpu-bundle.sh first and carry both" >&2; exit 1; }
PY=${PYTHON:-python3}
say "python torch: $($PY -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")')"
export PYTHON=$PY TORCHLIGHT_PYTHON="$(command -v "$PY")"  # the parity tests' Python
# xz may be missing there: python's tarfile (lzma) unpacks the same archives
untar() { if command -v xz >/dev/null; then tar -C "$2" -xJf "$1"; else "$PY" -W ignore -m tarfile -e "$1" "$2"; fi; }
if [ ! -x .gpu/node/bin/node ]; then mkdir -p .gpu/node && untar .gpu/node.tar.xz .gpu/node; fi
export PATH="$PWD/.gpu/node/bin:$PATH"
[ -d node_modules/node-gyp ] || untar .gpu/node_modules.tar.xz .
say "node $(node --version)"
if [ ! -f build/Release/torchlight.node ] || [ "${GPU_CHECK_REBUILD:-0}" = 1 ]; then
  say "building the addon against python's torch: $(LIBTORCH_USE_PYTORCH=1 node native/find-libtorch.mjs --json | tr -d '\n ' | grep -o '"cuda":[a-z]*,"version":"[^"]*"')"
  LIBTORCH_USE_PYTORCH=1 node node_modules/node-gyp/bin/node-gyp.js rebuild -j "$(nproc)" --loglevel=warn --nodedir="$PWD/.gpu/node" 2>&1 \
    | grep -vE "^  (CXX|SOLINK|COPY)|warning:|note:|^\s+[0-9]+ \||^\s+\||In file included|from /|^\s*$" | tail -40
  [ -f build/Release/torchlight.node ] || { echo "[gpu-check] the addon did not build (above)" >&2; exit 1; }
fi
node -e "import('./dist/src/torch/index.js').then((t) => { const c = t.config(); console.log('[gpu-check] torchlight:', JSON.stringify({ torch: c.torchVersion, builtWithCuda: c.builtWithCuda, nccl: c.nccl, cuda: c.cuda, gpus: c.cudaDeviceCount, mkldnn: c.mkldnn, blas: c.blas })); })"
say "CUDA tests"
node --expose-gc --test dist/test/torch/cuda.test.js dist/test/torch/amp.test.js dist/test/torch/grad_scaler.test.js 2>&1 | grep -E "^# (tests|pass|fail|skipped)|^not ok|^    not ok|# SKIP|error:" || true
export FASHION_MNIST="$PWD/.gpu/fashion-mnist" GPU_CHECK_RUNS="${TMPDIR:-/tmp}/torchlight-gpu-check"
STEPS=${GPU_CHECK_STEPS:-70}
say "seed program, torchlight (TorchTrainer, useGpu: true, $STEPS steps)"
# each side's output is shown as it comes and kept in a log (under $OUT too, where the device
# tool collects files); `tee /dev/stderr` would reopen, and so truncate, a log the caller redirects to
LOGS=${OUT:-${TMPDIR:-/tmp}}/gpu-check-logs; mkdir -p "$LOGS"
node dist/bench/gpu_seed.js --steps "$STEPS" 2>&1 | tee "$LOGS/torchlight.log" || true
TL=$(grep '^{"torchlight"' "$LOGS/torchlight.log" || true)
say "seed program, Python Lightning ($STEPS steps)"
PYTHONUNBUFFERED=1 $PY bench/gpu_seed.py --steps "$STEPS" --root "$FASHION_MNIST" 2>&1 | tee "$LOGS/python.log" || true
PYR=$(grep '^{"python"' "$LOGS/python.log" || true)
node -e '
const tl = JSON.parse(process.argv[1] || "{}").torchlight, py = JSON.parse(process.argv[2] || "{}").python;
if (!tl || !py) { console.log("[gpu-check] a side did not finish (above)"); process.exit(1); }
console.log(`[gpu-check] images/s: torchlight ${tl.imagesPerSecond.toFixed(0)} (torch ${tl.torch}, ${tl.device}), Python Lightning ${py.imagesPerSecond.toFixed(0)} (torch ${py.torch}): ${(tl.imagesPerSecond / py.imagesPerSecond).toFixed(2)}x; end to end ${tl.endToEndSeconds.toFixed(1)} s vs ${py.endToEndSeconds.toFixed(1)} s`);
' "$TL" "$PYR"
