#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs a fuzz target for SECONDS; fails on a crash. SEEDS: elf (default: the built unikernels)
# or chan (a few well-formed channel streams for fuzz-chan).
# Crashing inputs are kept (FUNK_FUZZ_ARTIFACTS, default: artifacts/ next to the fuzzer, i.e. in
# the build dir), named <fuzzer>-<UTC time>-<pid>-crash-<sha1>, with the command that replays
# each (the same scheme as accel/proto/fuzz/run.sh).
set -euo pipefail
FUZZER=$(realpath "${1:?usage: run_fuzz.sh FUZZER SECONDS [CORPUS_DIR] [elf|chan]}")
SECONDS_MAX=${2:-60}
CORPUS=${3:-}
SEEDS=${4:-elf}
. "$(dirname "$(realpath "$0")")/../../scripts/fuzz-lib.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$CORPUS" ]; then
    CORPUS=$WORK/corpus
fi
mkdir -p "$CORPUS"
n=0
if [ "$SEEDS" = chan ]; then
    # mode byte, then frames: magic 0x464b, version 1, type, len (little-endian), payload
    printf '\x00\x4b\x46\x01\x01\x03\x00\x00\x00abc\x4b\x46\x01\x02\x00\x00\x00\x00' \
        >"$CORPUS/seed-console-recv"
    printf '\x00\x4b\x46\x01\x03\x13\x00\x00\x00\xc8\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00hbb' \
        >"$CORPUS/seed-send"
    printf '\x01\x4b\x46\x01\x05\x00\x00\x00\x00' >"$CORPUS/seed-template"
    printf '\x02\x4b\x46\x01\x06\x00\x00\x00\x00' >"$CORPUS/seed-forked"
    n=4
fi
for d in "${FUNK_BUILD_ROOT:-}/functions" "${FUNK_BUILD_ROOT:-}/unikernels"; do
    [ "$SEEDS" = elf ] || break
    for f in "$d"/*.elf; do
        [ -f "$f" ] || continue
        cp -f "$f" "$CORPUS/seed-$(basename "$f")"
        n=$((n + 1))
    done
done
echo "fuzz: $(basename "$FUZZER") for ${SECONDS_MAX}s, $n $SEEDS seed(s), corpus $CORPUS"
if ! fuzz_run "$FUZZER" "$(basename "$FUZZER")" "$SECONDS_MAX" "$CORPUS" "$WORK" -max_len=262144; then
    echo "fuzz: FAILED"
    exit 1
fi
echo "fuzz: no crash"
