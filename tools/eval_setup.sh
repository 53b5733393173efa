#!/usr/bin/env bash
# Installs the anchor codecs and Butteraugli that bench/eval/main.ts drives, from Debian's
# packages, when they are missing. Does nothing when everything is present. Needs root (or sudo).
#   cjpeg/djpeg           libjpeg-turbo-progs
#   cwebp/dwebp           webp
#   avifenc/avifdec       libavif-bin
#   cjxl/djxl             libjxl-tools
#   butteraugli_main      libjxl-devtools (libjxl Butteraugli: max-norm and 3-norm)
#   butteraugli           butteraugli (2017 Google release: max-norm only; fallback)
set -uo pipefail

declare -A pkg_of=(
  [cjpeg]=libjpeg-turbo-progs [djpeg]=libjpeg-turbo-progs
  [cwebp]=webp [dwebp]=webp
  [avifenc]=libavif-bin [avifdec]=libavif-bin
  [cjxl]=libjxl-tools [djxl]=libjxl-tools
  [butteraugli_main]=libjxl-devtools [butteraugli]=butteraugli
)
need=()
for tool in "${!pkg_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || need+=("${pkg_of[$tool]}")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "eval_setup: all anchor tools present"
  exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
echo "eval_setup: installing ${need[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "eval_setup: not root and no sudo; install these Debian packages: ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq &&
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
  {
    echo "eval_setup: apt-get failed for ${need[*]}" >&2
    exit 1
  }
echo "eval_setup: done"
