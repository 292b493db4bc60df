#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Detect on one image through the cpu and the opencl plugins: the same labels, close scores/boxes.
set -uo pipefail
CHECK=${1:?usage: detect_match.sh GPU_CHECK IMAGE}
IMG=${2:?usage: detect_match.sh GPU_CHECK IMAGE}
if [ ! -r "$IMG" ]; then
  echo "SKIP: test image $IMG is missing (Debian package darknet provides it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The reference run only needs cpu's answers: LSan's exit-time tracer is known to crash on
# OpenCV's worker threads there, which is not what this test is about.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "$CHECK" detect cpu "$IMG" >"$tmp/cpu"
rc=$?
if [ $rc -eq 77 ]; then
  echo "SKIP: the cpu plugin has no default model (run scripts/models.sh): detect not compared"
  exit 77
fi
[ $rc -eq 0 ] || { echo "FAIL: cpu detect exited $rc"; exit 1; }
"$CHECK" detect opencl "$IMG" >"$tmp/ocl"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: opencl detect exited $rc (device absent or model unreadable)"; exit 1; }
echo "cpu:";    sed 's/^/  /' "$tmp/cpu"
echo "opencl:"; sed 's/^/  /' "$tmp/ocl"
grep -q "^det " "$tmp/cpu" || { echo "FAIL: cpu found nothing in $IMG"; exit 1; }
# Every detection of either plugin scoring >= 0.30 (clear of the 0.25 default threshold, where
# rounding may flip one) must have a partner in the other list: same label, score within 0.05,
# box within 2% of the image.
python3 - "$tmp/cpu" "$tmp/ocl" <<'PY'
import sys
def load(p):
    out = []
    for line in open(p):  # OpenCL build logs may be interleaved: keep only "det" lines
        f = line.split(None, 6)
        if len(f) == 7 and f[0] == "det":
            out.append((f[6].strip(), *map(float, f[1:6])))
    return out
cpu, ocl = load(sys.argv[1]), load(sys.argv[2])
bad = 0
def match(src, dst, sname, dname):
    global bad
    used = set()
    for c in src:
        if c[1] < 0.30:
            continue
        best = None
        for i, o in enumerate(dst):
            if i in used or o[0] != c[0]:
                continue
            d = max(abs(o[k] - c[k]) for k in range(2, 6))
            if abs(o[1] - c[1]) <= 0.05 and d <= 0.02 and (best is None or d < best[1]):
                best = (i, d)
        if best is None:
            print("FAIL: %s's %s %.3f has no matching %s detection" % (sname, c[0], c[1], dname))
            bad = 1
        else:
            used.add(best[0])
match(cpu, ocl, "cpu", "opencl")
match(ocl, cpu, "opencl", "cpu")
print("PASS: opencl detections match cpu's" if not bad else "FAIL: detections differ")
sys.exit(bad)
PY
