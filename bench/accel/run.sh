#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/accel: noop dispatch through libfunk-accel vs a direct call through a pointer, one run;
# then model runs (funk-bench-tensor): the test's ONNX and TorchScript models through the cpu and
# torch plugins vs OpenCV DNN and libtorch called directly, interleaved in one process.
# Uses FUNK_PREFIX (installed plugins) and FUNK_MESON_DIR (the bench binary); make bench sets both.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
BIN=$FUNK_MESON_DIR/bench/accel/funk-bench-accel
if [ ! -x "$BIN" ]; then
  echo "bench/accel: $BIN not built (make bench builds it)" >&2
  exit 1
fi
export FUNK_ACCEL_PLUGIN_PATH=$FUNK_PREFIX/lib/funk:$FUNK_MESON_DIR/accel/plugins/noop
unset FUNK_ACCEL_PROFILE
if ldd "$BIN" | grep -q libasan; then
  echo "bench/accel: WARNING: $BIN is built with sanitizers; figures are not representative"
fi
echo "bench/accel: $(nproc) CPUs, $(uname -r)"
"$BIN" "${BENCH_ACCEL_BATCHES:-200}" "${BENCH_ACCEL_CALLS:-50000}"

TBIN=$FUNK_MESON_DIR/bench/accel/funk-bench-tensor
MK_TS=$FUNK_MESON_DIR/tests/accel/tensor/make_torchscript
PY=
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import onnx' 2>/dev/null; then PY=$p; break; fi
done
if [ ! -x "$TBIN" ] || [ -z "$PY" ]; then
  echo "bench/accel: model runs skipped (funk-bench-tensor not built or no python3-onnx)"
  exit 0
fi
T=$(mktemp -d /tmp/funk-bench-tensor.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$PY" tests/accel/tensor/make_onnx.py "$T/model.onnx"
"$PY" tests/accel/tensor/make_onnx.py "$T/mlp.onnx" --mlp
TS=()
if [ -x "$MK_TS" ] && "$MK_TS" "$T/model.pt" && "$MK_TS" "$T/mlp.pt" mlp; then
  TS=("$T/model.pt" "$T/mlp.pt")
else
  echo "bench/accel: no torch plugin build (libtorch-dev): TorchScript row skipped"
fi
echo
"$TBIN" "${BENCH_TENSOR_N:-20000}" "$T/model.onnx" "$T/mlp.onnx" "${TS[@]}"
echo "(model runs: the 2x4 model's ~2.5 us forward shows the fixed cost of the call; the 256-wide"
echo " MLP is the one the within-3% target is read on)"
