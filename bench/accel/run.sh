#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/accel: noop dispatch through libfunk-accel vs a direct call through a pointer, one run.
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
exec "$BIN" "${BENCH_ACCEL_BATCHES:-200}" "${BENCH_ACCEL_CALLS:-50000}"
