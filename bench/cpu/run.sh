#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/cpu: sgemm 1024^3, dog.jpg classification and person.jpg pose / segmentation through the
# cpu plugin vs direct calls.
# Uses FUNK_PREFIX (installed plugins) and FUNK_MESON_DIR (the bench binary); make bench sets both.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
BIN=$FUNK_MESON_DIR/bench/cpu/funk-bench-cpu
if [ ! -x "$BIN" ]; then
  echo "bench/cpu: $BIN not built (make bench builds it)" >&2
  exit 1
fi
export FUNK_MODEL_DIR=${FUNK_MODEL_DIR:-$PWD/.cache/models}
for m in centernet.onnx movenet.onnx selfie.onnx; do
  if [ ! -s "$FUNK_MODEL_DIR/$m" ]; then
    scripts/models.sh
    break
  fi
done
export FUNK_ACCEL_PLUGIN_PATH=$FUNK_PREFIX/lib/funk:$FUNK_MESON_DIR/accel/plugins/cpu
echo "bench/cpu: $(nproc) CPUs, OpenBLAS + OpenCV $(pkg-config --modversion opencv4 2>/dev/null || echo '?')," \
  "model $FUNK_MODEL_DIR/centernet.onnx"
exec "$BIN" "${BENCH_SGEMM_ITERS:-50}" "${BENCH_CLASSIFY_ITERS:-30}"
