#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Self-contained GPU check for a lent GPU machine: builds libfunk-accel, the cuda plugin, the
# gpu-check test program and the sgemm benchmarks with plain cc (no meson, OpenBLAS or OpenCV
# needed), runs the cuda plugin's correctness test, then sgemm through funk_accel_sgemm vs
# cuBLAS called directly for SIZES, and prints a table. Without a GPU it says so and skips.
#   CUDA_HOME (default /usr/local/cuda)  SIZES (default "1024 2048 4096 8192")  CC (default cc)
#   DEVICE_BUILD: build folder (default build/device)
set -uo pipefail
cd "$(dirname "$0")/../.."
CUDA=${CUDA_HOME:-${CUDA_PATH:-/usr/local/cuda}}
B=${DEVICE_BUILD:-build/device}
SIZES=${SIZES:-1024 2048 4096 8192}
CC=${CC:-cc}
t_start=$(date +%s)

echo "== device"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current \
    --format=csv 2>&1 | sed 's/^/  /'
else
  echo "  nvidia-smi not found"
fi
echo "  host: $(nproc) CPUs, $(uname -r)"
if [ ! -f "$CUDA/include/cuda_runtime_api.h" ] || [ ! -e "$CUDA/lib64/libcublas.so" ]; then
  echo "SKIP: no CUDA toolkit at $CUDA (set CUDA_HOME): nothing to build"
  exit 77
fi
echo "  CUDA toolkit: $CUDA ($("$CUDA/bin/nvcc" --version 2>/dev/null | grep -o 'release [0-9.]*' || echo '?'))"

echo "== build ($CC -O2, sanitizers off)"
mkdir -p "$B/plugins"
CF=(-std=c11 -O2 -g -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra -Iinclude)
CUDA_CF=(-isystem "$CUDA/include")
CUDA_LD=(-L"$CUDA/lib64" -lcudart -lcublas -Wl,-rpath,"$CUDA/lib64")
build() { echo "  $*" | cut -c1-150; "$@" || { echo "FAIL: build step failed"; exit 1; }; }
build "$CC" "${CF[@]}" -fPIC -shared -fvisibility=hidden -DFUNK_PLUGIN_INSTALL_DIR="\"$PWD/$B/plugins\"" \
  accel/*.c -o "$B/libfunk-accel.so" -ldl -lpthread
build "$CC" "${CF[@]}" "${CUDA_CF[@]}" -fPIC -shared accel/plugins/cuda/cuda.c \
  -o "$B/plugins/libfunk-accel-cuda.so" -L"$B" -lfunk-accel "${CUDA_LD[@]}" -lpthread
build "$CC" "${CF[@]}" tests/gpu/gpu_check.c -o "$B/gpu-check" -L"$B" -lfunk-accel \
  -Wl,-rpath,"$PWD/$B" -lm
build "$CC" "${CF[@]}" "${CUDA_CF[@]}" bench/gpu/sgemm_cublas.c -o "$B/funk-bench-sgemm-cublas" \
  -L"$B" -lfunk-accel -Wl,-rpath,"$PWD/$B" "${CUDA_LD[@]}" -lm
export FUNK_ACCEL_PLUGIN_PATH=$PWD/$B/plugins
export FUNK_ACCEL_LOG_LEVEL=${FUNK_ACCEL_LOG_LEVEL:-info}
echo "  built in $(( $(date +%s) - t_start )) s"

fail=0
echo "== test: cuda plugin sgemm vs a double-precision reference (odd sizes, strides, alpha/beta)"
"$B/gpu-check" sgemm cuda
rc=$?
case $rc in
  0) ;;
  77) echo "SKIP: the cuda plugin reports no usable CUDA device here (see its log above)"
      echo "bench/device: nothing measured"; exit 77 ;;
  *) echo "FAIL: cuda sgemm test exited $rc"; fail=1 ;;
esac
echo "== test: the same with pinned staging (FUNK_ACCEL_CUDA_STAGING=1)"
FUNK_ACCEL_CUDA_STAGING=1 "$B/gpu-check" sgemm cuda 2>/dev/null | tail -1
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "FAIL: cuda sgemm test with staging"; fail=1; }
echo "== test: a device index that does not exist -> -ENODEV (not available)"
FUNK_ACCEL_CUDA_DEVICE=999 "$B/gpu-check" sgemm cuda >/dev/null 2>&1
rc=$?
if [ $rc -eq 77 ]; then echo "ok   FUNK_ACCEL_CUDA_DEVICE=999: plugin not available"; else
  echo "FAIL: FUNK_ACCEL_CUDA_DEVICE=999 gave exit $rc, want 77"; fail=1; fi

echo "== bench: sgemm n x n x n fp32, host arrays in and out, ms per call (accel and direct"
echo "   interleaved call by call in one process, N >= 20 each)"
unset FUNK_ACCEL_LOG_LEVEL
res=$(mktemp /tmp/funk-bench-device.XXXXXX)
for n in $SIZES; do
  for mode in pageable staged; do
    staging=0; [ $mode = staged ] && staging=1
    FUNK_ACCEL_PLUGINS=cuda FUNK_ACCEL_CUDA_STAGING=$staging "$B/funk-bench-sgemm-cublas" "$n" \
      2>"$res.err" | sed "s/^RESULT \(accel-cuda\|direct-cublas\|cublas-compute-only\)/RESULT \1($mode)/" >>"$res"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "FAIL: sgemm pair n=$n $mode: $(tail -1 "$res.err")"; fail=1; }
  done
  echo "  n=$n done ($(( $(date +%s) - t_start )) s)"
done
rm -f "$res.err"
python3 - "$res" <<'PY' || cat "$res"
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\S+) n=(\d+) iters=(\d+) min=([\d.]+) median=([\d.]+) p99=([\d.]+) gflops=([\d.]+)", line)
    if m:
        rows[(m.group(1), int(m.group(2)))] = m.groups()
print("%-30s %6s %4s %10s %10s %10s %9s %12s" % ("path", "n", "N", "min ms", "median ms", "p99 ms", "GFLOP/s", "vs direct"))
for n in sorted({k[1] for k in rows}):
    for mode in ("pageable", "staged"):
        d = rows.get(("direct-cublas(%s)" % mode, n))
        for name in ("accel-cuda", "direct-cublas", "cublas-compute-only"):
            g = rows.get(("%s(%s)" % (name, mode), n))
            if not g:
                continue
            r = "%.3f" % (float(g[4]) / float(d[4])) if d and name.startswith("accel") else ""
            print("%-30s %6d %4s %10s %10s %10s %9s %12s" % (g[0], n, g[2], g[3], g[4], g[5], g[6], r))
print("vs direct: median via funk_accel_sgemm / median of the same cuBLAS work called directly in"
      " the same process, calls interleaved (async copies on its own stream, as the plugin does);"
      " compute-only: cublasSgemm on resident data; pageable is the plugin's default,"
      " staged = FUNK_ACCEL_CUDA_STAGING=1 (the direct side never stages)")
PY
rm -f "$res"
echo "bench/device: finished in $(( $(date +%s) - t_start )) s, $([ $fail = 0 ] && echo 'tests passed' || echo 'TESTS FAILED')"
exit $fail
