#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/python: Python classify (import funk_accel) vs the C classify of the same image and
# model in the same process, interleaved; and noop per call. Uses FUNK_PREFIX (installed plugins
# and models) and FUNK_MESON_DIR (the built funk_accel package and funk_cbench); make bench sets both.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
PKG=$FUNK_MESON_DIR/accel/python
CB=$FUNK_MESON_DIR/bench/python
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! ls "$PKG"/funk_accel/_native*.so >/dev/null 2>&1 || ! ls "$CB"/funk_cbench*.so >/dev/null 2>&1; then
  echo "bench/python: SKIP: Python bindings not built in $FUNK_MESON_DIR (python3-dev missing?)"
  exit 77
fi
if ! "$PY" -c 'import numpy' 2>/dev/null; then
  echo "bench/python: SKIP: $PY has no numpy (python3-numpy)"
  exit 77
fi
if [ ! -r /usr/share/darknet/data/dog.jpg ]; then
  echo "bench/python: SKIP: /usr/share/darknet/data/dog.jpg missing (Debian package darknet)"
  exit 77
fi
export FUNK_MODEL_DIR=${FUNK_MODEL_DIR:-$PWD/.cache/models}
if [ ! -s "$FUNK_MODEL_DIR/centernet.onnx" ]; then
  scripts/models.sh
fi
export FUNK_ACCEL_PLUGIN_PATH=$FUNK_PREFIX/lib/funk:$FUNK_MESON_DIR/accel/plugins/cpu
export FUNK_ACCEL_PLUGINS=cpu
unset FUNK_ACCEL_PROFILE
if ldd "$PKG"/funk_accel/_native*.so | grep -q libasan; then
  echo "bench/python: WARNING: built with sanitizers; figures are not representative"
  export LD_PRELOAD=$(ldd "$PKG"/funk_accel/_native*.so | awk '/libasan/ {print $3}') ASAN_OPTIONS=detect_leaks=0
fi
echo "bench/python: $(nproc) CPUs, $("$PY" -V), model $FUNK_MODEL_DIR/centernet.onnx"
PYTHONPATH=$PKG:$CB exec "$PY" bench/python/bench_python.py
