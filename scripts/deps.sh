#!/usr/bin/env bash
# Installs the Debian packages funk builds, tests and demos with, only when one is missing.
set -euo pipefail
PKGS=(
  build-essential meson ninja-build pkg-config clang lld libclang-rt-14-dev
  libcmocka-dev libseccomp-dev libopenblas-dev libopencv-dev libjpeg-dev libpng-dev
  darknet python3 python3-onnx python3-numpy
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev clinfo
)
# Extra packages a component may append (one per line) without editing this list.
for f in scripts/deps.d/*.txt; do
  [ -e "$f" ] || continue
  while read -r p; do [ -n "$p" ] && [ "${p#\#}" = "$p" ] && PKGS+=("$p"); done <"$f"
done
missing=()
command -v npm >/dev/null || PKGS+=(npm)  # node+npm may come from elsewhere (e.g. nodesource)
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# Packages of another architecture (NAME:arm64, for make cross-arm64) need it known to dpkg.
for p in "${missing[@]}"; do
  case "$p" in
  *:*) a=${p##*:}
    dpkg --print-foreign-architectures | grep -qx "$a" || { echo "deps: dpkg --add-architecture $a"; $SUDO dpkg --add-architecture "$a"; } ;;
  esac
done
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
