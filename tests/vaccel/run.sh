#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vAccel-style programs on funk: natively (cpu/noop/exec plugins) and through the rpc plugin +
# funk-accel-agent; each result checked (sgemm vs a naive product, dog.jpg labels, exec 2*10).
set -uo pipefail
NOOP=$1 SGEMM=$2 IMAGE=$3 EXEC=$4 TESTLIB=$5 ADAPTER=$6 AGENT=$7
IMG=/usr/share/darknet/data/dog.jpg
T=$(mktemp -d /tmp/funk-vaccel.XXXXXX)
FAILS=0
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

# Without the photo or the model the image checks cannot run; everything else still does.
IMAGES=1
if [ ! -r "$IMG" ] || [ ! -r "$FUNK_MODEL_DIR/centernet.onnx" ]; then
  echo "SKIP (image checks only): $IMG or $FUNK_MODEL_DIR/centernet.onnx missing" \
    "(scripts/deps.sh, scripts/models.sh)"
  IMAGES=0
fi

# The operator's exec directory: real copies (funk's allowlist ignores symlinks), not writable
# by group/others. The test library links libvaccel, found next to it in the build tree.
mkdir -p "$T/exec"
install -m 0755 "$ADAPTER" "$TESTLIB" "$T/exec/"
LIB=$T/exec/$(basename "$TESTLIB")
export FUNK_ACCEL_EXEC_DIR=$T/exec
export LD_LIBRARY_PATH=$(dirname "$ADAPTER")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VACCEL_PROFILING_ENABLED=1
unset FUNK_ACCEL_PLUGINS

# check NAME EXPECTED-REGEX CMD...: runs CMD, wants exit 0 and a line matching the regex
check() {
  local name=$1 want=$2
  shift 2
  if "$@" >"$T/out" 2>"$T/err" && grep -Eq "$want" "$T/out"; then
    ok "$name: $(grep -E "$want" "$T/out" | head -1 | cut -c1-100)"
  else
    bad "$name (rc=$?)"; cat "$T/out" "$T/err" | head -20
  fi
}

suite() { # suite LABEL: every program once under the current VACCEL_PLUGINS / rpc settings
  local L=$1
  check "$L noop x5 + profiling" '^Initialized session with id: [1-9]' "$NOOP" 5
  grep -Eq '^\[prof\] noop: total_time: [1-9][0-9]* nsec nr_entries: 5$' "$T/err" \
    && ok "$L noop profiling region printed" || { bad "$L noop profiling line"; cat "$T/err"; }
  check "$L sgemm" '^sgemm check: ok' "$SGEMM"
  check "$L sgemm_generic" '^sgemm check: ok' "$SGEMM" generic
  if [ "$IMAGES" = 0 ]; then
    echo "SKIP - $L classify/detect: no photo or model"
  else
    check "$L classify" '^classification tags: .*dog' "$IMAGE" classify "$IMG"
    check "$L classify_generic" '^classification tags: .*dog' "$IMAGE" classify_generic "$IMG"
    check "$L detect" '^detection imagename: .*dog 0\.[0-9]+' "$IMAGE" detect "$IMG"
    check "$L detect_generic" '^detection imagename: .*dog' "$IMAGE" detect_generic "$IMG"
  fi
  check "$L exec x3" '^output: 20$' "$EXEC" exec "$LIB" 3
  check "$L exec_generic" '^output: 20$' "$EXEC" exec_generic "$LIB"
  check "$L exec_with_resource (file)" '^output1: 20$' "$EXEC" exec_with_resource "$LIB"
  grep -q '^output2: 20$' "$T/out" && ok "$L exec_with_resource (buffer): output2: 20" \
    || bad "$L exec_with_resource buffer resource"
  for op in segment pose depth; do
    "$IMAGE" "$op" "$LIB" >"$T/out" 2>&1 # any bytes: no plugin gets to decode them
    rc=$?
    [ "$rc" = "$(python3 -c 'import errno; print(errno.ENOTSUP)')" ] \
      && ok "$L $op: VACCEL_ENOTSUP" || { bad "$L $op rc=$rc"; cat "$T/out"; }
  done
}

# Negative: a library whose bytes are not those of a file in the exec directory is never run
# (the same bytes elsewhere would run the installed copy: identity is the content hash).
cp "$TESTLIB" "$T/outside.so"
printf 'x' >>"$T/outside.so"
VACCEL_PLUGINS=libvaccel-exec.so "$EXEC" exec "$T/outside.so" >"$T/out" 2>&1
rc=$?
if [ "$rc" = 1 ]; then # EPERM
  ok "exec of a library outside FUNK_ACCEL_EXEC_DIR refused (EPERM)"
else
  bad "exec outside the exec dir: rc=$rc"; cat "$T/out"
fi

# Only symbols the library itself defines are callable: not libc's (reached through dlsym's
# dependency search), not the adapter's own entry point.
for sym in "$LIB system" "$LIB vaccel_arg_array_wrap" "$T/exec/$(basename "$ADAPTER") vaccel_funk_exec"; do
  set -- $sym
  VACCEL_PLUGINS=cpu:libvaccel-exec.so "$EXEC" exec_symbol "$1" "$2" >"$T/out" 2>&1
  if grep -Eq "^exec_symbol $2: (1|2)$" "$T/out"; then # EPERM / ENOENT
    ok "exec of '$2' in $(basename "$1") refused: $(grep '^exec_symbol' "$T/out")"
  else
    bad "exec of '$2' in $(basename "$1")"; cat "$T/out"
  fi
done

VACCEL_PLUGINS=cpu:libvaccel-exec.so suite native
# vAccel's noop plugin name maps to funk's noop (+ exec): sgemm is its naive product
VACCEL_PLUGINS=libvaccel-noop.so check "noop plugin sgemm" '^sgemm check: ok' "$SGEMM"

# A vAccel backend funk has no counterpart of is skipped; nothing left fails the session (ENOENT)
VACCEL_LOG_LEVEL=2 VACCEL_PLUGINS=libvaccel-tf.so "$NOOP" >"$T/out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "no funk plugin for 'libvaccel-tf.so'" "$T/out"; then
  ok "VACCEL_PLUGINS=libvaccel-tf.so: skipped with a warning (VACCEL_LOG_LEVEL=2), session ENOENT"
else
  bad "unmapped VACCEL_PLUGINS: rc=$rc"; cat "$T/out"
fi

ADDR=unix://$T/agent.sock
FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "$ADDR" --plugins cpu:exec 2>"$T/agent.log" &
AGENT_PID=$!
for _ in $(seq 200); do
  grep -q "listening on" "$T/agent.log" 2>/dev/null && break
  kill -0 "$AGENT_PID" 2>/dev/null || break
  sleep 0.05
done
if grep -q "listening on" "$T/agent.log"; then
  VACCEL_PLUGINS=libvaccel-rpc.so FUNK_ACCEL_RPC_ADDRESS=$ADDR suite rpc
else
  bad "agent did not start"; cat "$T/agent.log"
fi

[ "$FAILS" = 0 ] && echo "all vaccel checks passed" || echo "$FAILS vaccel check(s) failed"
[ "$FAILS" = 0 ]
