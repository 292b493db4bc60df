#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make fuzz`: runs every fuzz target built in the main tree for FUZZ_SECONDS each, keeping a
# persistent corpus per target under .cache/fuzz/NAME (seeded with the built unikernels).
set -euo pipefail
cd "$(dirname "$0")/.."
MESON_DIR=${MESON_DIR:-build/test/meson}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
export FUNK_BUILD_ROOT=${FUNK_BUILD_ROOT:-$PWD/$MESON_DIR}
mapfile -t targets < <(find "$MESON_DIR" -type f -name 'fuzz-*' -perm -u+x | sort)
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no fuzz targets in $MESON_DIR (is clang with libFuzzer installed?)" >&2
    exit 1
fi
rc=0
for t in "${targets[@]}"; do
    name=$(basename "$t")
    corpus=.cache/fuzz/$name
    mkdir -p "$corpus"
    runner=monitor/fuzz/run_fuzz.sh
    echo "== $name (${FUZZ_SECONDS}s)"
    "$runner" "$PWD/$t" "$FUZZ_SECONDS" "$PWD/$corpus" || rc=1
done
# (exit status: after the blocks below)

# ---- transport (issue 4): the accel wire-protocol decoder -------------------------------------
# Its own runner: seeds are protocol frames, not unikernels (the loop above skips it: its name
# does not start with fuzz-).
proto_fuzzer=$(find "$MESON_DIR" -type f -name proto-fuzzer -perm -u+x | head -1)
if [ -n "$proto_fuzzer" ]; then
    mkdir -p .cache/fuzz/proto
    echo "== proto-fuzzer (${FUZZ_SECONDS}s)"
    accel/proto/fuzz/run.sh "$PWD/$proto_fuzzer" "$FUZZ_SECONDS" "$PWD/.cache/fuzz/proto" || rc=1
fi
exit $rc
