#!/bin/bash
# Prepares, on this machine, what tools/gpu/session.sh needs on the GPU machine (which reaches no
# registry and starts bare), in folders .git/info/exclude keeps out of git:
#   .dev/deno.xz    this Deno (xz; the machine has none)
#   .dev/denodir    a DENO_DIR holding only the npm packages the codec path imports
#   .dev/data       BSDS500 train+val (the training data)
#   .gl/            the Vulkan/GL loader packages (../.library/device/README.md)
# and then `light` / `restore` take the large committed files out of what travels (the device
# call sends tracked files, limit 64 MiB in all) and put them back:
#   tools/gpu/prepare.sh            # build .dev and .gl
#   tools/gpu/prepare.sh light      # before the device call: untrack the large files
#   tools/gpu/prepare.sh restore    # after it (also safe to run twice)
#   tools/gpu/collect.sh FILES_AT   # after a training call: restore, then the checked resume.pt
# Two kinds of call fit the limit (Deno, the data and progic-s's resume.pt together do not):
#   bench (weights of a one-step fresh run; times do not depend on the values):
#                         tools/gpu/prepare.sh light; run("bash tools/gpu/session.sh", carry=[".dev", ".gl"])
#   training, resumed:    LIGHT_KEEP=train/runs/progic-s/resume.pt tools/gpu/prepare.sh light;
#                         run("bash tools/gpu/session.sh", carry=[".dev/data", ".gl"])
set -eu
cd "$(dirname "$0")/../.."
EXCLUDE=.git/info/exclude
# Committed files the GPU session does not read (checkpoints of other configs, other weights,
# evaluation records, images).
LARGE=$(git ls-files -z | xargs -0 du -b | awk '$1 > 300000 { print $2 }' |
  grep -v '^tools/\|^src/\|^shaders/' | grep -vxF "${LIGHT_KEEP:-/}" || true)

case "${1:-build}" in
light)
  [ -z "$LARGE" ] && { echo "nothing large is tracked"; exit 0; }
  echo "$LARGE" >.git/tessera-gpu-light
  # shellcheck disable=SC2086
  git rm -q --cached $LARGE
  sed 's|^|/|' .git/tessera-gpu-light >>"$EXCLUDE"
  echo "untracked for the call (restore afterwards):"
  cat .git/tessera-gpu-light
  ;;
restore)
  [ -f .git/tessera-gpu-light ] || { echo "nothing to restore"; exit 0; }
  # shellcheck disable=SC2046
  git reset -q -- $(cat .git/tessera-gpu-light)
  grep -vxF -f <(sed 's|^|/|' .git/tessera-gpu-light) "$EXCLUDE" >"$EXCLUDE.tmp" || true
  mv "$EXCLUDE.tmp" "$EXCLUDE"
  rm .git/tessera-gpu-light
  git status --short | head
  ;;
build)
  for d in /.dev/ /.gl/; do grep -qxF "$d" "$EXCLUDE" 2>/dev/null || echo "$d" >>"$EXCLUDE"; done
  mkdir -p .dev .gl
  deno=$(command -v deno || true)
  [ -n "$deno" ] || { echo "deno not on PATH (npm i deno@2.9.6)"; exit 1; }
  [ -f .dev/deno.xz ] || xz -T2 -6 -c "$(readlink -f "$deno")" >.dev/deno.xz
  if [ ! -d .dev/data/train ]; then
    mkdir -p .dev/data && cp -r ../shared/data/bsds500/train ../shared/data/bsds500/val .dev/data/
  fi
  # The codec path's npm imports only: the bench's dynamic imports (onnxruntime-web, TF.js) are
  # cached too by `deno cache` but are not used with --peers torch, so they are dropped.
  rm -rf .dev/denodir
  DENO_DIR=.dev/denodir "$deno" cache --no-lock bench/progic/main.ts >/dev/null
  keep='^(fast-png|jpeg-js|fflate|iobuffer)$'
  for p in .dev/denodir/npm/registry.npmjs.org/*; do
    [[ $(basename "$p") =~ $keep ]] || rm -rf "$p"
  done
  rm -rf .dev/denodir/gen .dev/denodir/*cache*
  if ! ls .gl/*.deb >/dev/null 2>&1; then
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    mkdir -p /tmp/amd64/partial
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  fi
  du -sh .dev/* .gl
  echo "tracked: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes; run '$0 light' before the call"
  ;;
*)
  echo "usage: $0 [build|light|restore]"
  exit 64
  ;;
esac
