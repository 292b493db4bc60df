#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/vaccel: the vAccel-compatible layer's noop and exec vs funk's native API, one run, batches
# interleaved. Builds its program with `pkg-config --cflags --libs vaccel` against FUNK_PREFIX, as
# a vAccel application would be built.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
PC=$FUNK_PREFIX/lib/pkgconfig
if [ ! -r "$PC/vaccel.pc" ] || [ ! -r "$FUNK_PREFIX/lib/funk/exec/libvaccel-exec.so" ]; then
  echo "bench/vaccel: $PC/vaccel.pc or lib/funk/exec/libvaccel-exec.so missing (make bench installs them)" >&2
  exit 1
fi
T=$(mktemp -d /tmp/funk-bench-vaccel.XXXXXX)
trap 'rm -rf "$T"' EXIT
FLAGS="$(PKG_CONFIG_PATH=$PC pkg-config --cflags --libs vaccel) -I$PWD/include -L$FUNK_PREFIX/lib -lfunk-accel -Wl,-rpath,$FUNK_PREFIX/lib"
if ldd "$FUNK_PREFIX/lib/libvaccel.so" | grep -q libasan; then
  echo "bench/vaccel: WARNING: $FUNK_PREFIX is built with sanitizers; figures are not representative"
  FLAGS="$FLAGS -fsanitize=address,undefined"
fi
SRC=bench/vaccel
mkdir "$T/exec"
cc -O2 -shared -fPIC -DVACCEL_ABI -o "$T/exec/libvtest.so" $SRC/libs.c $FLAGS
cc -O2 -shared -fPIC -o "$T/exec/libftest.so" $SRC/libs.c $FLAGS
cp "$FUNK_PREFIX/lib/funk/exec/libvaccel-exec.so" "$T/exec/"
chmod 0755 "$T/exec"/*.so
cc -O2 -o "$T/bench" $SRC/bench_vaccel.c $FLAGS
export FUNK_ACCEL_EXEC_DIR=$T/exec FUNK_ACCEL_PLUGIN_PATH=$FUNK_PREFIX/lib/funk
export VACCEL_PLUGINS=libvaccel-noop.so # noop + exec, as in bench/accel
unset FUNK_ACCEL_PROFILE VACCEL_PROFILING_ENABLED FUNK_ACCEL_PLUGINS
echo "bench/vaccel: $(nproc) CPUs, $(uname -r)"
"$T/bench" "${BENCH_VACCEL_BATCHES:-200}" "${BENCH_VACCEL_CALLS:-20000}" \
  "$T/exec/libvtest.so" "$T/exec/libftest.so" funk_double
