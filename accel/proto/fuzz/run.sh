#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzes the accel wire decoder (proto-fuzzer) for SECONDS, seeded with one valid frame per
# message type (requests and replies) so mutations start deep; fails on a crash.
# Crashing inputs are kept (FUNK_FUZZ_ARTIFACTS, default: artifacts/ next to the fuzzer, i.e. in
# the build dir), named proto-<UTC time>-crash-<sha1>, with the command that replays each.
set -euo pipefail
FUZZER=$(realpath "${1:?usage: run.sh FUZZER [SECONDS] [CORPUS_DIR]}")
SECONDS_MAX=${2:-20}
CORPUS=${3:-}
. "$(dirname "$(realpath "$0")")/../../../scripts/fuzz-lib.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -n "$CORPUS" ] || CORPUS=$WORK/corpus
mkdir -p "$CORPUS"
python3 - "$CORPUS" <<'PY'
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
ok = struct.pack("<iI", 0, 0)
seeds = {
 "new": fr(1), "del": fr(2, struct.pack("<II", 1, 0)), "have": fr(3, h),
 "put": fr(4, struct.pack("<II", 1, 0) + h + by(b"abc")),
 "reg": fr(5, struct.pack("<II", 1, 1) + h + struct.pack("<II", 1, 0) + by(b"kind\0") + by(b"classifier\0")),
 "unreg": fr(6, struct.pack("<II", 1, 1)), "noop": fr(7, struct.pack("<II", 1, 0)),
 "exec": fr(8, struct.pack("<II", 1, 1) + by(b"f\0") + struct.pack("<II", 1, 0) + arg + struct.pack("<II", 1, 0) + spec),
 "sgemm": fr(9, struct.pack("<IiiiIf", 1, 1, 1, 1, 0x3f800000, 0.0) + by(b"\0\0\x80\x3f") + by(b"\0\0\x80\x3f") + by(b"")),
 "classify": fr(10, struct.pack("<IIII", 1, 0, 0, 5) + by(b"\xff\xd8\xff")),
 "detect": fr(11, struct.pack("<IIII", 1, 0, 30, 5) + by(b"\xff\xd8\xff")),
 "op": fr(12, struct.pack("<II", 1, 0) + by(b"echo\0") + struct.pack("<II", 1, 0) + arg + struct.pack("<II", 0, 0)),
 "plugins": fr(13), "stats": fr(14),
 "r_new": fr(1, ok + struct.pack("<II", 1, 0), 1), "r_err": fr(7, struct.pack("<iI", -9, 0), 3),
 "r_exec": fr(8, ok + struct.pack("<II", 1, 0) + struct.pack("<II", 3, 0) + by(b"abc"), 1),
 "r_cls": fr(10, struct.pack("<iIII", 1, 0, 1, 0) + lab, 1),
 "r_det": fr(11, struct.pack("<iIII", 1, 0, 1, 0) + lab + struct.pack("<ffff", .1, .2, .3, .4), 1),
 "r_plug": fr(13, struct.pack("<iIII", 1, 0, 1, 0) + struct.pack("<iIII", 100, 31, 1, 0) + by(b"cpu\0") + by(b"1\0") + by(b"d\0"), 1),
 "r_stats": fr(14, ok + struct.pack("<8Q", *range(8)), 1),
 "r_sgemm": fr(9, ok + by(b"\0\0\x80\x3f"), 1),
}
for k, v in seeds.items():
    open(os.path.join(d, "seed-" + k), "wb").write(v)
PY
echo "fuzz: $(basename "$FUZZER") for ${SECONDS_MAX}s, corpus $CORPUS"
if ! fuzz_run "$FUZZER" proto "$SECONDS_MAX" "$CORPUS" "$WORK" -max_len=4096 -timeout=10; then
    echo "FAIL: the wire decoder fuzzer found a crash"
    exit 1
fi
echo "fuzz: no crash in ${SECONDS_MAX}s"
