#!/usr/bin/env bash
# Runs every component's benchmark script (bench/*/run.sh) against FUNK_PREFIX (an optimized
# build) and prints their tables. Each script measures its figure and its baseline in one run.
set -uo pipefail
cd "$(dirname "$0")/.."
export FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
export FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
rc=0
ran=() skipped=() failed=()
# bench/device/run.sh is the GPU machine's script (it builds itself and exits 77 without a GPU);
# it runs here too so a GPU host gets its table, and "no GPU" counts as skipped, not failed.
for s in bench/*/run.sh; do
  [ -x "$s" ] || continue
  echo "== $s"
  "$s"
  case $? in
    0) ran+=("$s") ;;
    77) echo "bench: $s SKIPPED (exit 77; its reason is printed above)"; skipped+=("$s") ;;
    *) echo "bench: $s FAILED"; failed+=("$s"); rc=1 ;;
  esac
done
# A benchmark that cannot run exits 77 and is listed here as skipped, never as measured.
echo "bench: ${#ran[@]} ran, ${#failed[@]} failed${failed:+ (${failed[*]})}," \
  "${#skipped[@]} skipped${skipped:+ (${skipped[*]})}"
exit $rc
