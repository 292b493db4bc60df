#!/usr/bin/env bash
# Runs every component's benchmark script (bench/*/run.sh) against FUNK_PREFIX (an optimized
# build) and prints their tables. Each script measures its figure and its baseline in one run.
set -uo pipefail
cd "$(dirname "$0")/.."
export FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build/release}
export FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
rc=0
for s in bench/*/run.sh; do
  [ -x "$s" ] || continue
  echo "== $s"
  "$s" || { echo "bench: $s failed"; rc=1; }
done
exit $rc
