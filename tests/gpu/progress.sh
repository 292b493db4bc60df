#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# First-use OpenCL kernel compilation says what it does and how long it took, on a terminal
# only: funk-accel detect through the opencl plugin under a pseudo-terminal (script(1)) prints
# the "[opencl] compiling ... done in" lines; the same run with stderr in a file prints none.
set -uo pipefail
ACCEL=${1:?usage: progress.sh FUNK_ACCEL IMAGE}
IMG=${2:?usage: progress.sh FUNK_ACCEL IMAGE}
[ -r "$IMG" ] || { echo "SKIP: test image $IMG is missing (Debian package darknet provides it)"; exit 77; }
command -v script >/dev/null || { echo "SKIP: script(1) (bsdutils) is not installed"; exit 77; }
clinfo -l 2>/dev/null | grep -q 'Device' || { echo "SKIP: no OpenCL device (clinfo lists none)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
# LSan's exit-time tracer is known to crash on OpenCV's worker threads: not what this is about.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
script -qec "$(printf '%q ' "$ACCEL" --plugins opencl detect "$IMG" --top 1)" /dev/null >"$tmp/tty" 2>&1
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: detect on a terminal exited $rc"; sed 's/^/  /' "$tmp/tty"; exit 1; }
tr -d '\r' <"$tmp/tty" >"$tmp/tty.txt"
grep -Eq '^\[opencl\] compiling CLBlast GEMM kernels on .*\.\.\. done in [0-9.]+ s$' "$tmp/tty.txt" &&
  echo "ok   - terminal: CLBlast compilation announced with its time" ||
  { echo "FAIL - terminal: no CLBlast progress line"; fails=$((fails + 1)); }
grep -q '^\[opencl\] building OpenCV DNN kernels (first detect) on ' "$tmp/tty.txt" &&
  grep -Eq 'done in [0-9.]+ s$' "$tmp/tty.txt" &&
  echo "ok   - terminal: the first detect announces the DNN kernel build" ||
  { echo "FAIL - terminal: no DNN build progress"; fails=$((fails + 1)); }
"$ACCEL" --plugins opencl detect "$IMG" --top 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: detect without a terminal exited $rc"; cat "$tmp/err"; exit 1; }
grep -q '^\[opencl\]' "$tmp/err" && { echo "FAIL - not a terminal, yet progress lines: $(grep '^\[opencl\]' "$tmp/err")"; fails=$((fails + 1)); } ||
  echo "ok   - not a terminal: no progress lines"
[ -s "$tmp/out" ] && echo "ok   - the result still on stdout" || { echo "FAIL - no detections on stdout"; fails=$((fails + 1)); }
exit $((fails > 0))
