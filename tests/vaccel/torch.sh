#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vaccel-torch: the vAccel-style Torch program on funk's torch plugin, natively
# (VACCEL_PLUGINS=libvaccel-torch.so) and through rpc + funk-accel-agent; the model is made here
# with libtorch (no download) and the output checked against a reference computed here.
set -uo pipefail
PROG=$1 MAKE_TS=$2 AGENT=$3
T=$(mktemp -d /tmp/funk-vaccel-torch.XXXXXX)
FAILS=0
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
unset FUNK_ACCEL_PLUGINS

"$MAKE_TS" "$T/model.pt" || { echo "FAIL: make_torchscript"; exit 1; }

# y = x W + B for x of torch.c, W[i][j] = 0.1 (3i + j) - 0.5, B[j] = 0.25 j - 0.3 (the model's
# first output), to 1e-5.
check_values() {
  python3 - "$1" <<'PY'
import re, sys
x = [1.0, -2.0, 3.0, 0.5, -1.0, 0.25, 2.0, -3.0]
want = [sum(x[b * 4 + i] * (0.1 * (3 * i + j) - 0.5) for i in range(4)) + 0.25 * j - 0.3
        for b in range(2) for j in range(3)]
got = [float(v) for v in re.findall(r"^out\[\d+\] = (\S+)$", open(sys.argv[1]).read(), re.M)]
bad = len(got) != 6 * 3 or any(abs(g - want[i % 6]) > 1e-5 for i, g in enumerate(got))
print("values: %s" % ("wrong: %r" % got if bad else "match the reference"))
sys.exit(1 if bad else 0)
PY
}

run() { # LABEL: three iterations under the current settings
  if VACCEL_PROFILING_ENABLED=1 "$PROG" "$T/model.pt" 3 >"$T/out" 2>"$T/err" \
     && grep -q "^Output tensor => type:7 nr_dims:2 size:24B$" "$T/out" \
     && check_values "$T/out" >"$T/check"; then
    ok "$1: $(cat "$T/check")"
  else
    bad "$1"; cat "$T/out" "$T/err" "$T/check" 2>/dev/null | head -30
  fi
}

VACCEL_PLUGINS=libvaccel-torch.so run "native (torch plugin)"
ADDR=unix://$T/agent.sock
"$AGENT" --listen "$ADDR" --plugins torch 2>"$T/agent.log" &
AGENT_PID=$!
for _ in $(seq 400); do
  grep -q "listening on" "$T/agent.log" 2>/dev/null && break
  kill -0 "$AGENT_PID" 2>/dev/null || break
  sleep 0.05
done
if grep -q "listening on" "$T/agent.log"; then
  VACCEL_PLUGINS=libvaccel-rpc.so FUNK_ACCEL_RPC_ADDRESS=$ADDR run "rpc + agent (torch plugin)"
else
  bad "agent did not start"; cat "$T/agent.log"
fi
# TensorFlow has no funk backend: its ops stay VACCEL_ENOTSUP (tests/vaccel/run.sh checks the
# mapping of unknown plugins).
[ "$FAILS" = 0 ] && echo "vaccel-torch: all passed" || echo "vaccel-torch: $FAILS failure(s)"
[ "$FAILS" = 0 ]
