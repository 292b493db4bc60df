#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the wire-protocol decoder fuzz target with clang (libFuzzer + ASan + UBSan) and runs it
# for FUZZ_SECONDS (else the third argument, else 25) on a seed corpus of valid frames. Exit 77 without clang/libFuzzer.
set -euo pipefail
SRC=${1:?source root}
OUT=${2:?work dir}
SECONDS_TO_RUN=${FUZZ_SECONDS:-${3:-25}}
CLANG=${CLANG:-clang}
mkdir -p "$OUT/corpus" "$OUT/crashes"
if ! command -v "$CLANG" >/dev/null; then
  echo "SKIP: clang not installed: the decoder fuzz target cannot be built"; exit 77
fi
BIN=$OUT/fuzz_proto
if ! "$CLANG" -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$SRC/accel/proto" -I"$SRC/include" \
    "$SRC/accel/proto/fuzz/fuzz_proto.c" "$SRC/accel/proto/proto.c" -o "$BIN" 2>"$OUT/build.log"; then
  if grep -q "fuzzer" "$OUT/build.log"; then
    echo "SKIP: this clang has no libFuzzer runtime:"; cat "$OUT/build.log"; exit 77
  fi
  cat "$OUT/build.log"; exit 1
fi
# Seeds: one valid frame per message type, requests and replies (so mutations start deep).
python3 - "$OUT/corpus" <<'PY'
import struct, sys, os
d = sys.argv[1]
def fr(t, p=b"", flags=0, fid=1):
    return struct.pack("<IHHIIQ", 0x50414B46, 1, t, flags, len(p), fid) + p
def by(b):
    return struct.pack("<II", len(b), 0) + b + b"\0" * ((8 - len(b) % 8) % 8)
h = bytes(range(32))
arg = struct.pack("<IIII", 2, 0, 4, 1) + by(b"\1\0\0\0")
spec = struct.pack("<IIII", 1, 0, 16, 0)
lab = struct.pack("<if", 3, 0.5) + b"dog".ljust(64, b"\0")
seeds = {
 "new": fr(1), "del": fr(2, struct.pack("<II", 1, 0)), "have": fr(3, h),
 "put": fr(4, struct.pack("<II", 1, 0) + h + by(b"abc")),
 "reg": fr(5, struct.pack("<II", 1, 1) + h + struct.pack("<II", 1, 0) + by(b"kind\0") + by(b"classifier\0")),
 "unreg": fr(6, struct.pack("<II", 1, 1)), "noop": fr(7, struct.pack("<II", 1, 0)),
 "exec": fr(8, struct.pack("<II", 1, 1) + by(b"f\0") + struct.pack("<II", 1, 0) + arg + struct.pack("<II", 1, 0) + spec),
 "sgemm": fr(9, struct.pack("<IiiiffI", 1, 1, 1, 1, 1.0, 0.0, 0)[:24] + by(b"\0\0\x80\x3f") + by(b"\0\0\x80\x3f") + by(b"")),
 "classify": fr(10, struct.pack("<IIII", 1, 0, 0, 5) + by(b"\xff\xd8\xff")),
 "detect": fr(11, struct.pack("<IIII", 1, 0, 30, 5) + by(b"\xff\xd8\xff")),
 "plugins": fr(13), "stats": fr(14),
 "r_new": fr(1, struct.pack("<iIII", 0, 0, 1, 0), 1),
 "r_err": fr(7, struct.pack("<iI", -9, 0), 3),
 "r_exec": fr(8, struct.pack("<iIII", 0, 0, 1, 0) + struct.pack("<II", 3, 0) + by(b"abc"), 1),
 "r_cls": fr(10, struct.pack("<iIII", 1, 0, 1, 0) + lab, 1),
 "r_det": fr(11, struct.pack("<iIII", 1, 0, 1, 0) + lab + struct.pack("<ffff", .1, .2, .3, .4), 1),
 "r_plug": fr(13, struct.pack("<iIII", 1, 0, 1, 0) + struct.pack("<iIII", 100, 31, 1, 0) + by(b"cpu\0") + by(b"1\0") + by(b"d\0"), 1),
 "r_stats": fr(14, struct.pack("<iI", 0, 0) + struct.pack("<8Q", *range(8)), 1),
 "r_sgemm": fr(9, struct.pack("<iI", 0, 0) + by(b"\0\0\x80\x3f"), 1),
}
for k, v in seeds.items():
    open(os.path.join(d, "seed-" + k), "wb").write(v)
PY
echo "fuzzing the accel wire decoder for ${SECONDS_TO_RUN}s"
"$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
  -artifact_prefix="$OUT/crashes/" -print_final_stats=1 "$OUT/corpus" 2>&1 | tail -25
status=${PIPESTATUS[0]}
if [ "$status" != 0 ] || ls "$OUT/crashes/"* >/dev/null 2>&1; then
  echo "FAIL: the fuzzer found a crash (artifacts in $OUT/crashes)"; exit 1
fi
echo "fuzz: no crash in ${SECONDS_TO_RUN}s"
