#!/usr/bin/env bash
# Runs every registered test (cmocka units, end-to-end scripts, bounded fuzzing) via meson test
# and closes with one plain "tests: N passed, N failed, N skipped" line for CI, after a line that
# counts and names the expected failures (counted in none of the three).
set -uo pipefail
MESON_DIR=${1:-build/test/meson}
export FUNK_PREFIX=${FUNK_PREFIX:-$(cd "$(dirname "$MESON_DIR")" && pwd)}
# KVM tests run where /dev/kvm works and skip loudly otherwise; say which up front.
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
  echo "run-tests: /dev/kvm present: KVM tests will run"
else
  echo "run-tests: WARNING: /dev/kvm not usable: KVM tests will be SKIPPED"
fi
meson test -C "$MESON_DIR" --print-errorlogs --num-processes 2 "${@:2}"
rc=$?
log="$MESON_DIR/meson-logs/testlog.json"
if [ -f "$log" ]; then
  python3 - "$log" <<'PY'
import json, sys
res = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def named(kind):
    return [r["name"].split(" / ")[-1] for r in res if r["result"] == kind]
ok, xfail, skip = len(named("OK")), named("EXPECTEDFAIL"), len(named("SKIP"))
bad = len(res) - ok - len(xfail) - skip  # FAIL, ERROR, TIMEOUT, UNEXPECTEDPASS
# An expected failure is neither a pass nor a failure: counted and named on its own line.
print("expected failures: %d%s" % (len(xfail), " (%s)" % ", ".join(xfail) if xfail else ""))
print("tests: %d passed, %d failed, %d skipped" % (ok, bad, skip))
PY
fi
exit $rc
