#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The four ways, end to end on the real binaries: classify dog.jpg and a fixed sgemm natively
# (cpu plugin), natively through rpc + agent, as a unikernel via the monitor's private agent and
# as a unikernel via a listening agent -> identical bodies; and a hostile unikernel's bad ACCEL
# buffers refused in both modes.
set -uo pipefail
MONITOR=$1 AGENT=$2 CLS_NATIVE=$3 SG_NATIVE=$4 CLS_UK=$5 SG_UK=$6 HOSTILE_UK=$7
IMG=/usr/share/darknet/data/dog.jpg
T=$(mktemp -d /tmp/funk-uk.XXXXXX)
SOCK=$T/accel.sock
FAILS=0
AP=
trap '[ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$T"' EXIT
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

[ -r "$IMG" ] || { echo "SKIP: $IMG missing (Debian package darknet)"; exit 77; }
[ -r "$FUNK_MODEL_DIR/centernet.onnx" ] || { echo "SKIP: no model (scripts/models.sh)"; exit 77; }
# Backend: the process backend runs guests at native speed; KVM here emulates every instruction.
ISO=
for b in process kvm; do
  if FUNK_ACCEL_PLUGINS=noop "$MONITOR" --isolation=$b --mem=16 "$HOSTILE_UK" 2>/dev/null | grep -q "refused as expected"; then
    ISO=$b; break
  fi
done
if [ -z "$ISO" ]; then
  echo "SKIP: neither the process backend nor KVM runs the test unikernel here:"
  FUNK_ACCEL_PLUGINS=noop "$MONITOR" --isolation=process --mem=16 "$HOSTILE_UK" 2>&1 | tail -2
  FUNK_ACCEL_PLUGINS=noop "$MONITOR" --isolation=kvm --mem=16 "$HOSTILE_UK" 2>&1 | tail -2
  exit 77
fi
echo "backend: --isolation=$ISO"

# An exec directory with nothing in it: no guest-sent library may ever run (hostile checks).
mkdir "$T/exec"
export FUNK_ACCEL_EXEC_DIR=$T/exec
FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "unix://$SOCK" --plugins cpu:noop:exec --exec-dir "$T/exec" 2>"$T/agent.log" &
AP=$!
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { echo "agent did not start"; cat "$T/agent.log"; exit 1; }

python3 - "$T/sg.bin" <<'PY'
import struct, sys
m, n, k = 37, 29, 23
a = [((i * 7) % 19 - 9) / 8.0 for i in range(m * k)]
b = [((i * 5) % 23 - 11) / 16.0 for i in range(k * n)]
open(sys.argv[1], "wb").write(struct.pack("<III", m, n, k) + struct.pack("<%df" % (m * k), *a) + struct.pack("<%df" % (k * n), *b))
PY

run4() { # run4 NAME NATIVE UK INPUT: the four ways into $T/NAME.{native,rpc,uk-private,uk-agent}
  local name=$1 native=$2 uk=$3 input=$4
  FUNK_ACCEL_PLUGINS=cpu "$native" <"$input" >"$T/$name.native" 2>"$T/$name.native.err" || bad "$name native: $(cat "$T/$name.native.err")"
  FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=unix://$SOCK "$native" <"$input" >"$T/$name.rpc" 2>"$T/$name.rpc.err" || bad "$name rpc: $(cat "$T/$name.rpc.err")"
  FUNK_ACCEL_PLUGINS=cpu "$MONITOR" --isolation=$ISO --mem=64 --timeout=60 --fn-input="$input" "$uk" >"$T/$name.uk-private" 2>"$T/$name.uk-private.err" || bad "$name unikernel via the monitor's private agent: $(tail -3 "$T/$name.uk-private.err")"
  "$MONITOR" --isolation=$ISO --mem=64 --timeout=60 --accel=agent:unix://$SOCK --fn-input="$input" "$uk" >"$T/$name.uk-agent" 2>"$T/$name.uk-agent.err" || bad "$name unikernel via agent: $(tail -3 "$T/$name.uk-agent.err")"
  for w in rpc uk-private uk-agent; do
    if [ -s "$T/$name.native" ] && cmp -s "$T/$name.native" "$T/$name.$w"; then
      ok "$name: native == $w"
    else
      bad "$name: native != $w"; head -c 400 "$T/$name.native"; echo; head -c 400 "$T/$name.$w"; echo
    fi
  done
}
run4 classify "$CLS_NATIVE" "$CLS_UK" "$IMG"
grep -q '"label":"dog"' "$T/classify.native" && ok "classify finds the dog: $(head -c 120 "$T/classify.native")" || bad "no dog in $(cat "$T/classify.native")"
run4 sgemm "$SG_NATIVE" "$SG_UK" "$T/sg.bin"
[ "$(stat -c %s "$T/sgemm.native")" = $((37 * 29 * 4)) ] && ok "sgemm: 37x29 product, $(stat -c %s "$T/sgemm.native") bytes" || bad "sgemm output size"
# The four agree; an independent naive product (its own parsing of the body) says they are right.
out=$(python3 "$(dirname "$0")/sgemm_ref.py" body "$T/sg.bin" "$T/sgemm.native" 2>&1) && ok "sgemm vs naive reference: $out" || bad "sgemm vs naive reference: $out"
# M, N, K in another order: a mixed-up dimension in the function's parsing shows here.
python3 -c 'import struct,sys; m,n,k=3,7,5; open(sys.argv[1],"wb").write(struct.pack("<III",m,n,k)+struct.pack("<%df"%(m*k+k*n),*[(i%11-5)/4.0 for i in range(m*k+k*n)]))' "$T/sg2.bin"
for w in native uk; do
  if [ $w = native ]; then FUNK_ACCEL_PLUGINS=cpu "$SG_NATIVE" <"$T/sg2.bin" >"$T/sg2.$w" 2>"$T/sg2.err"
  else FUNK_ACCEL_PLUGINS=cpu "$MONITOR" --isolation=$ISO --mem=64 --timeout=60 --fn-input="$T/sg2.bin" "$SG_UK" >"$T/sg2.$w" 2>"$T/sg2.err"; fi
  rc=$?
  out=$(python3 "$(dirname "$0")/sgemm_ref.py" body "$T/sg2.bin" "$T/sg2.$w" 2>&1); prc=$?
  [ $rc = 0 ] && [ $prc = 0 ] && ok "sgemm 3x7x5 ($w) vs naive reference: $out" || bad "sgemm 3x7x5 ($w) rc=$rc: $out $(tail -2 "$T/sg2.err")"
done

# Bad input to the functions: a clear error, not a crash.
echo "not an image" >"$T/bad.txt"
FUNK_ACCEL_PLUGINS=cpu "$MONITOR" --isolation=$ISO --mem=64 --fn-input="$T/bad.txt" "$CLS_UK" >"$T/bad.out" 2>&1
grep -q '"error":"classify' "$T/bad.out" && ok "classify unikernel: garbage image -> error JSON" || bad "garbage image: $(cat "$T/bad.out")"
printf 'abc' >"$T/bad.bin"
FUNK_ACCEL_PLUGINS=cpu "$MONITOR" --isolation=$ISO --mem=64 --fn-input="$T/bad.bin" "$SG_UK" >"$T/bad2.out" 2>&1
grep -q "body must start with" "$T/bad2.out" && ok "sgemm unikernel: short body -> 400 reason" || bad "short sgemm body: $(cat "$T/bad2.out")"

# Hostile unikernel, both modes (noop plugin: the checks are about the transport; exec plugin:
# the guest's own bytes sent as a LIBRARY must be refused, -EPERM, never loaded).
for mode in private agent:unix://$SOCK; do
  out=$(FUNK_ACCEL_PLUGINS=noop:exec "$MONITOR" --isolation=$ISO --mem=16 --accel=$mode "$HOSTILE_UK" 2>&1); rc=$?
  if [ $rc = 0 ] && echo "$out" | grep -q "refused as expected"; then
    ok "hostile unikernel ($mode): $(echo "$out" | grep 'refused as expected')"
  else
    bad "hostile unikernel ($mode) rc=$rc:"; echo "$out" | grep -v "^ok  " | tail -20
  fi
  echo "$out" | grep -q "^guest library exec: -1$" && ok "hostile unikernel ($mode): its own bytes as a library -> exec -EPERM" ||
    bad "hostile unikernel ($mode): guest library exec: $(echo "$out" | grep 'guest library exec' || echo "$out" | tail -3)"
done
# Plugins that fail to load: the private agent says why and ends, so every call answers that its
# connection is gone (-ECONNRESET); the monitor and its sandbox stay intact.
for b in process kvm; do
  out=$(FUNK_ACCEL_PLUGINS=nosuchplugin "$MONITOR" --isolation=$b --mem=16 "$HOSTILE_UK" 2>&1); rc=$?
  if [ $rc = 1 ] && echo "$out" | grep -q "FAIL session: -104 (want 0)" &&
      echo "$out" | grep -q "funk-accel-agent: loading plugins"; then
    ok "$b: plugins missing -> the agent says why, -ECONNRESET to the guest, monitor intact"
  elif echo "$out" | grep -qi "kvm.*\(unavailable\|cannot\)\|/dev/kvm"; then
    echo "SKIP (part): $b backend unavailable"
  else
    bad "$b: plugins missing: rc=$rc $(echo "$out" | tail -3)"
  fi
done
"$MONITOR" --accel=bogus "$HOSTILE_UK" >/dev/null 2>"$T/usage.err"; rc=$?
[ $rc = 64 ] && grep -q "accel" "$T/usage.err" && ok "--accel=bogus: usage error" || bad "--accel=bogus rc=$rc $(cat "$T/usage.err")"

kill -TERM $AP; wait $AP; AP=
echo "transport unikernels: $FAILS failure(s)"
[ $FAILS = 0 ]
