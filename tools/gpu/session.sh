#!/bin/bash
# One device call for issue 5 (prepared by tools/gpu/prepare.sh, which says how to call it):
# progic-s on the GPU machine.
#   1. with train/runs/progic-s/resume.pt in the tree: training resumes from it; without it (a
#      bench call, which cannot carry it beside Deno and the data): a fresh run for one step
#      (codebook data init) gives weights to time, and step 3 runs only with FRESH=1;
#   2. with .dev/deno.xz carried: the weights exported without tables, and their encode/decode
#      timings, Deno WebGPU over Vulkan vs the PyTorch twin on CUDA (bench/progic/main.ts; the
#      cost does not depend on the weights' values), and the GPU time per kernel
#      (bench/progic/profile.ts);
#   3. training for what the time box leaves; resume.pt (F16 conv weights, --slim-f16) copied
#      back in 15 MiB pieces after every save (here: tools/gpu/collect.sh FILES_AT joins and checks them).
# env: DEVICE (cuda), BOX (seconds the whole script may take), BATCH, CROP, SIZES, ITERS,
# NOBENCH=1 (skip 2), FRESH=1 (train a fresh run in 3; never commit its pieces over a resume.pt),
# AMP=1 (train with --amp bf16, falling back to F32 if that run fails), COMPILE=MODE (train with
# --compile MODE: default or reduce-overhead; train.py itself falls back to eager), STEPS (the
# schedule's length, 200000) and WARMUP (its warm-up steps, 1000: a WARMUP at the resumed step with
# a STEPS a box ahead runs one whole cosine from --lr to --lr-min in that box).
# BATCH is 64: the eager step is bound by launching its ~11k kernels (train/README.md, "GPU
# machine"), so twice the first run's 32 crops should cost little more time per step.
set -u
DEVICE=${DEVICE:-cuda}
BOX=${BOX:-560}
BATCH=${BATCH:-64}
CROP=${CROP:-256}
SIZES=${SIZES:-768x512,512x512,256x256}
ITERS=${ITERS:-10}
STEPS=${STEPS:-200000}
PY=${PY:-python3}
if [ "$DEVICE" != cuda ] && [ -z "${NOBENCH:-}" ]; then
  echo "the bench step exports over weights/progic-s.*: run it on the GPU machine (which has a copy" \
    "of the tree), or here with NOBENCH=1" >&2
  exit 64
fi
T0=$(date +%s)
RUN=/tmp/runs/progic-s
el() { echo "[$(($(date +%s) - T0))s] $*"; }
exec > >(tee -a "$OUT/run.log") 2>&1

el setup
if [ "$DEVICE" = cuda ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  if [ -f .dev/deno.xz ]; then
    xz -dc .dev/deno.xz >/tmp/deno ||
      $PY -c "import lzma, shutil; shutil.copyfileobj(lzma.open('.dev/deno.xz'), open('/tmp/deno', 'wb'))"
    chmod +x /tmp/deno
  fi
  DENO=/tmp/deno
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
else
  DENO=${DENO:-deno}
fi
[ -x "$DENO" ] || command -v "$DENO" >/dev/null || NOBENCH=1
[ -n "${NOBENCH:-}" ] || $DENO --version | head -1
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"

export PYTHONUNBUFFERED=1
TRAIN=($PY train/train.py --config progic-s --device "$DEVICE" --data .dev/data
  --steps "$STEPS" ${WARMUP:+--warmup "$WARMUP"} --batch "$BATCH" --crop "$CROP" --threads 8 --save-min 1.5 --slim-f16
  --log-every 100 --run-dir "$RUN" ${COMPILE:+--compile "$COMPILE"})

# Pieces of the last saved resume.pt into $OUT (whole pieces only: write beside, then rename).
ship() {
  [ -f "$RUN/resume.pt" ] || return 0
  local m
  m=$(stat -c %Y "$RUN/resume.pt")
  [ "$m" = "${SHIPPED:-}" ] && return 0
  rm -rf /tmp/pieces && mkdir -p /tmp/pieces
  split -b 15M -d -a 2 "$RUN/resume.pt" /tmp/pieces/resume.pt.
  rm -f "$OUT"/resume.pt.*
  (cd /tmp/pieces && sha256sum resume.pt.* >SHA256 && cat resume.pt.* | sha256sum >>SHA256)
  mv /tmp/pieces/* "$OUT"/
  cp "$RUN/train.log" "$OUT/train.log" 2>/dev/null
  SHIPPED=$m
}

if [ -f train/runs/progic-s/resume.pt ]; then
  el "resuming from the committed resume.pt"
  mkdir -p "$RUN" && cp train/runs/progic-s/resume.pt "$RUN/"
  SHIPPED=$(stat -c %Y "$RUN/resume.pt")
  CKPT=$RUN/resume.pt
else
  el "train: one step"
  timeout 120 "${TRAIN[@]}" --fresh --until 1 || el "first step failed ($?)"
  CKPT=$RUN/ckpt.pt
fi

if [ -z "${NOBENCH:-}" ]; then
  el export
  timeout 60 $PY train/export.py --config progic-s --ckpt "$CKPT" --no-eval --no-entropy \
    --refine-books 0 --no-golden --out-dir weights || el "export failed ($?)"
fi

if [ -z "${NOBENCH:-}" ] && [ -f weights/progic-s.safetensors ]; then
  el "adapter probe"
  probe='const a = await navigator.gpu.requestAdapter(); const i = a?.info; console.log(i ? [i.vendor, i.architecture, i.device, i.description].join(" | ") : "no adapter");'
  $DENO eval "$probe" 2>&1 | tail -2
  if [ "$DEVICE" = cuda ] && ! $DENO eval "$probe" 2>/dev/null | grep -qi nvidia; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    el "no NVIDIA adapter; with VK_DRIVER_FILES:"
    $DENO eval "$probe" 2>&1 | tail -2
  fi
  el "bench"
  img=$(ls .dev/data/val/*.jpg | head -1)
  DENO_DIR=.dev/denodir TESSERA_PYTHON=$PY DENO_WEBGPU_BACKEND=vulkan timeout 180 \
    $DENO run --no-lock --cached-only -A bench/progic/main.ts --model progic-s --peers torch \
    --torch-device "$DEVICE" --sizes "$SIZES" --iters "$ITERS" --warmup 3 --image "$img" \
    --out "$OUT/bench_progic_s.md" >/dev/null || el "bench failed ($?)"
  if [ ! -s "$OUT/bench_progic_s.md" ]; then
    el "torch alone"
    timeout 60 $PY bench/progic/torch_bench.py --weights weights/progic-s.safetensors \
      --sizes "$SIZES" --iters "$ITERS" --warmup 3 --device "$DEVICE"
  fi
  el "profile"
  DENO_DIR=.dev/denodir DENO_WEBGPU_BACKEND=vulkan timeout 90 \
    $DENO run --no-lock --cached-only -A bench/progic/profile.ts --model progic-s \
    --size "${SIZES%%,*}" --runs 5 --out "$OUT/profile_progic_s.md" >/dev/null || el "profile failed ($?)"
fi

# Trains for what the box leaves (extra train.py options in "$@"), shipping after every save;
# returns train.py's exit status (1 when too little time is left to start).
train_rest() {
  local left pid
  left=$((BOX - ($(date +%s) - T0) - 45))
  el "train: ${left}s $*"
  [ "$left" -gt 60 ] || return 1
  timeout $((left + 40)) "${TRAIN[@]}" "$@" --max-minutes "$(awk "BEGIN { print $left / 60 }")" &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    sleep 10
    ship
  done
  wait $pid
}

if [ "$CKPT" != "$RUN/resume.pt" ] && [ -z "${FRESH:-}" ]; then
  el "no resume.pt in the tree and no FRESH=1: no training"
elif [ -n "${AMP:-}" ]; then
  # bf16 autocast is not yet proven on the GPU: if its run fails (train.py exits 2 after 20
  # non-finite losses in a row), the rest of the box trains without it from the last save.
  train_rest --amp bf16 || { el "--amp bf16 run failed ($?)"; train_rest; }
else
  train_rest
fi
el "train exit $?"
ship
tail -3 "$RUN/train.log"
el done
