#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzes the ELF loader for SECONDS with a corpus seeded by the built unikernels; fails on a crash.
set -euo pipefail
FUZZER=$(realpath "${1:?usage: run_fuzz.sh FUZZER SECONDS [CORPUS_DIR]}")
SECONDS_MAX=${2:-60}
CORPUS=${3:-}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [ -z "$CORPUS" ]; then
    CORPUS=$WORK/corpus
fi
mkdir -p "$CORPUS"
n=0
for d in "${FUNK_BUILD_ROOT:-}/functions" "${FUNK_BUILD_ROOT:-}/unikernels"; do
    for f in "$d"/*.elf; do
        [ -f "$f" ] || continue
        cp -f "$f" "$CORPUS/seed-$(basename "$f")"
        n=$((n + 1))
    done
done
echo "fuzz: $(basename "$FUZZER") for ${SECONDS_MAX}s, $n unikernel seed(s), corpus $CORPUS"
# -rss_limit_mb bounds memory; artifacts (crashing inputs) land in $WORK and are printed.
cd "$WORK"
if ! "$FUZZER" -max_total_time="$SECONDS_MAX" -max_len=262144 -rss_limit_mb=1024 \
        -print_final_stats=1 "$CORPUS" 2>"$WORK/log"; then
    tail -40 "$WORK/log"
    for a in "$WORK"/crash-* "$WORK"/leak-* "$WORK"/timeout-*; do
        [ -f "$a" ] && { echo "artifact: $a"; xxd "$a" | head -20; }
    done
    echo "fuzz: FAILED"
    exit 1
fi
grep -E "stat::number_of_executed_units|Done" "$WORK/log" || true
echo "fuzz: no crash"
