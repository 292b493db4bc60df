#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzes the model_run op's decoder (tensor-fuzzer) for SECONDS from a seed that is one valid
# call (2x4 f32 input, one output) and one with too small an output; fails on a crash.
set -euo pipefail
FUZZER=$(realpath "${1:?usage: fuzz.sh FUZZER [SECONDS]}")
SECONDS_MAX=${2:-20}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/corpus"
python3 - "$WORK/corpus" <<'PY'
import struct, sys, os
d = sys.argv[1]
call = struct.pack("<IHHII", 0x52544B46, 1, 0, 1, 1) + bytes(32)
def desc(dt, shape, name):
    return struct.pack("<II", dt, len(shape)) + struct.pack("<8q", *(shape + [0] * (8 - len(shape)))) \
        + name.encode().ljust(64, b"\0")
descs = desc(1, [2, 4], "x") + desc(0, [], "")
data = bytes(32)
def arg(b):
    return struct.pack("<H", len(b)) + b
for name, cap in (("ok", 32), ("nospc", 8)):
    seed = bytes([3, 2, 255]) + arg(call) + arg(descs) + arg(data) + struct.pack("<HH", 136, cap)
    open(os.path.join(d, name), "wb").write(seed)
PY
mkdir -p "$WORK/artifacts"
if ! "$FUZZER" -max_total_time="$SECONDS_MAX" -max_len=4096 -artifact_prefix="$WORK/artifacts/" \
    "$WORK/corpus" >"$WORK/log" 2>&1; then
  tail -40 "$WORK/log"
  for f in "$WORK"/artifacts/*; do [ -e "$f" ] && echo "crash input (base64): $(base64 -w0 "$f")"; done
  exit 1
fi
grep -E "^Done|#[0-9]+.*DONE" "$WORK/log" | tail -1
