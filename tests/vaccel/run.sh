#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vAccel-style programs on funk: natively (cpu/noop/exec plugins) and through the rpc plugin +
# funk-accel-agent; each result checked (sgemm vs a naive product, dog.jpg labels, exec 2*10).
set -uo pipefail
NOOP=$1 SGEMM=$2 IMAGE=$3 EXEC=$4 TESTLIB=$5 ADAPTER=$6 AGENT=$7 POSE=$8 SEGMENT=$9
IMG=/usr/share/darknet/data/dog.jpg
PERSON=/usr/share/darknet/data/person.jpg
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
POSES=1
if [ ! -r "$PERSON" ] || [ ! -r "$FUNK_MODEL_DIR/movenet.onnx" ] || [ ! -r "$FUNK_MODEL_DIR/selfie.onnx" ]; then
  echo "SKIP (pose/segment checks only): $PERSON, movenet.onnx or selfie.onnx missing" \
    "(scripts/deps.sh, scripts/models.sh)"
  POSES=0
fi

# pose_ok FILE: the 17 keypoints, the nose above both hips, every confident one on the person
# (darknet's person.jpg: she stands at x 0.29..0.43 of the width, y 0.26..0.89 of the height).
pose_ok() {
  sed -n 's/^pose estimation imagename: //p' "$1" | tr ';' '\n' | awk '
    NF == 4 { n++; y[$1] = $3; if ($4 >= 0.3 && ($2 < 0.24 || $2 > 0.48 || $3 < 0.2 || $3 > 0.95)) off++ }
    END { exit !(n == 17 && !off && y["nose"] < y["left_hip"] && y["nose"] < y["right_hip"]) }'
}
# seg_ok FILE: the mask covers part of the picture, and its box lies around the person.
seg_ok() {
  sed -n 's/^segmentation imagename: person //p' "$1" | awk '
    { c = $1 + 0; exit !(c > 2 && c < 20 && $2 == "box" && $3 > 0.2 && $3 < 0.35 && $5 < 0.3 && $4 < 0.35 && $6 > 0.4) }'
}

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
  "$IMAGE" depth "$LIB" >"$T/out" 2>&1 # any bytes: no plugin gets to decode them
  rc=$?
  [ "$rc" = "$(python3 -c 'import errno; print(errno.ENOTSUP)')" ] \
    && ok "$L depth: VACCEL_ENOTSUP" || { bad "$L depth rc=$rc"; cat "$T/out"; }
  if [ "$POSES" = 0 ]; then
    echo "SKIP - $L pose/segment: no photo or model"
    return
  fi
  for g in "" generic; do
    if "$POSE" "$PERSON" 2 $g >"$T/out" 2>"$T/err" && pose_ok "$T/out"; then
      ok "$L pose $g: $(grep '^pose' "$T/out" | cut -c1-90)..."
    else
      bad "$L pose $g"; cat "$T/out" "$T/err" | head -20
    fi
    if "$SEGMENT" "$PERSON" 2 $g >"$T/out" 2>"$T/err" && seg_ok "$T/out"; then
      ok "$L segment $g: $(grep '^segmentation' "$T/out")"
    else
      bad "$L segment $g"; cat "$T/out" "$T/err" | head -20
    fi
  done
  grep -Eq '^\[prof\] segment: total_time: [1-9][0-9]* nsec nr_entries: 2$' "$T/err" \
    && ok "$L segment profiling region" || { bad "$L segment profiling line"; cat "$T/err"; }
  "$POSE" "$LIB" >"$T/out" 2>&1 # not an image: EBADMSG from the plugin, mapped by the layer
  rc=$?
  [ "$rc" != 0 ] && ! grep -q '^pose estimation' "$T/out" && ok "$L pose on bytes that are no image: rc=$rc" \
    || { bad "$L pose on non-image bytes rc=$rc"; cat "$T/out"; }
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
