#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sgemm through libfunk-accel on the cpu, opencl and (when a GPU is there) cuda plugins, each
# interleaved call by call (A B, B A, ...) with the same work done by calling its library
# directly, in one process: min/median/p99, N (>= 20). Exit 77 when nothing could be measured.
#   FUNK_PREFIX     installed tree (plugins in $FUNK_PREFIX/lib/funk)   default build
#   FUNK_MESON_DIR  meson build dir holding bench/gpu/funk-bench-*      default $FUNK_PREFIX/meson
#   SIZES           matrix sizes for cpu and cuda (default "1024 4096")
#   OCL_SIZES       for opencl (default "1024": PoCL on a 2-core host takes ~4 s per 4096^3 call)
#   ITERS           calls per side and size (default 20, at least 20)
set -uo pipefail
cd "$(dirname "$0")/../.."
PREFIX=${FUNK_PREFIX:-$PWD/build}
MESON_DIR=${FUNK_MESON_DIR:-$PREFIX/meson}
BIN=$MESON_DIR/bench/gpu
SIZES=${SIZES:-1024 4096}
OCL_SIZES=${OCL_SIZES:-1024}
export FUNK_ACCEL_PLUGIN_PATH=$PREFIX/lib/funk
if [ ! -x "$BIN/funk-bench-sgemm-openblas" ]; then
  echo "bench/gpu: $BIN/funk-bench-sgemm-openblas missing: build first (make bench)" >&2
  exit 1
fi
out=$(mktemp /tmp/funk-bench-gpu.XXXXXX)
err=$(mktemp /tmp/funk-bench-gpu-err.XXXXXX)
trap 'rm -f "$out" "$err"' EXIT
FAILED=0

# run PATH PROGRAM N PLUGIN: the pair program times funk_accel_sgemm on PLUGIN and its library
# directly, interleaved; appends "PATH-accel RESULT", "PATH-direct RESULT" or why not.
run() {
  local label=$1 prog=$2 n=$3 plugin=$4
  if [ ! -x "$BIN/$prog" ]; then
    echo "$label n=$n: not built here" >>"$out"
    return
  fi
  local line rc
  line=$(FUNK_ACCEL_PLUGINS=$plugin "$BIN/$prog" "$n" ${ITERS:-} 2>"$err")
  rc=$?
  if [ $rc -eq 77 ]; then
    echo "$label n=$n: skipped ($(tail -1 "$err"))" >>"$out"
  elif [ $rc -ne 0 ]; then
    echo "$label n=$n: FAILED rc=$rc ($(tail -1 "$err"))" >>"$out"
    FAILED=1
  else
    grep '^RESULT accel-' <<<"$line" | head -1 | sed "s/^/${label}-accel /" >>"$out"
    grep '^RESULT direct-' <<<"$line" | head -1 | sed "s/^/${label}-direct /" >>"$out"
    # cuBLAS's baseline also reports compute alone
    grep '^RESULT cublas-compute-only' <<<"$line" | sed "s/^/${label}-compute /" >>"$out"
  fi
}

echo "bench/gpu: sgemm C = A*B, square n x n x n fp32, times per call in ms (host arrays in and out)"
echo "bench/gpu: OpenCL device: $(clinfo -l 2>/dev/null | grep -m1 Device | sed 's/.*Device #[0-9]*: //' || echo '?')"
have_gpu=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  have_gpu=1
  echo "bench/gpu: CUDA device: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
else
  echo "bench/gpu: no CUDA device here: cuda rows are skipped"
fi
for n in $SIZES; do
  run cpu funk-bench-sgemm-openblas "$n" cpu
  [ $have_gpu = 1 ] && run cuda funk-bench-sgemm-cublas "$n" cuda
done
for n in $OCL_SIZES; do
  run ocl funk-bench-sgemm-clblast "$n" opencl
done

if ! grep -q ' RESULT ' "$out"; then
  cat "$out"
  echo "bench/gpu: SKIPPED: nothing could be measured here"
  exit 77
fi
python3 - "$out" <<'PY'
import re, sys
rows, notes = {}, []
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) RESULT (\S+) n=(\d+) iters=(\d+) min=([\d.]+) median=([\d.]+) p99=([\d.]+) gflops=([\d.]+)", line)
    if m:
        rows[(m.group(1), int(m.group(3)))] = m.groups()
    else:
        notes.append(line.strip())
print("%-16s %6s %4s %10s %10s %10s %9s %14s" % ("path", "n", "N", "min ms", "median ms", "p99 ms", "GFLOP/s", "accel/direct"))
for (label, n), g in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    ratio = ""
    if label.endswith("-accel"):
        d = rows.get((label[:-6] + "-direct", n))
        if d:
            ratio = "%.3f" % (float(g[5]) / float(d[5]))
    print("%-16s %6d %4s %10s %10s %10s %9s %14s" % (label, n, g[3], g[4], g[5], g[6], g[7], ratio))
for n in notes:
    print("note:", n)
print("accel/direct: median through funk_accel_sgemm divided by the same library called directly"
      " in the same process, calls interleaved (1.000 = no overhead)")
PY
exit $FAILED
