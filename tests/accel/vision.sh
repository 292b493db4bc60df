#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pose and segmentation on darknet's person.jpg with the real models: natively (cpu plugin) and
# through the rpc plugin + a funk-accel-agent started here (the generic-op wire path); with
# MODE=opencl, natively on the opencl plugin alone (skips when it has no OpenCL device).
set -uo pipefail
PROG=$1 AGENT=$2 MODE=${3:-cpu} CLI=${4:-}
IMG=/usr/share/darknet/data/person.jpg
for f in "$IMG" "$FUNK_MODEL_DIR/centernet.onnx" "$FUNK_MODEL_DIR/movenet.onnx" \
  "$FUNK_MODEL_DIR/selfie.onnx"; do
  if [ ! -r "$f" ]; then
    echo "SKIP: $f missing (scripts/deps.sh installs darknet's photos, scripts/models.sh the models)"
    exit 77
  fi
done
T=$(mktemp -d /tmp/funk-vision.XXXXXX)
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
FAILS=0

if [ "$MODE" = opencl ]; then
  if ! "$CLI" --plugins opencl plugins 2>"$T/cli.err" | grep -Eq '^opencl .* available '; then
    echo "SKIP: the opencl plugin has no usable OpenCL device here:"; cat "$T/cli.err"
    exit 77
  fi
  echo "# native: opencl plugin alone (OpenCV DNN on its OpenCL device)"
  # PoCL keeps process-lifetime state that gcc 12's LSan trips over at exit (tests/gpu/gpu_check.c)
  ASAN_OPTIONS=detect_leaks=0:protect_shadow_gap=0 FUNK_ACCEL_PLUGINS=opencl "$PROG" "$IMG"
  exit $?
fi

echo "# native: cpu plugin"
FUNK_ACCEL_PLUGINS=cpu "$PROG" "$IMG" || FAILS=$((FAILS + 1))

echo "# rpc plugin -> funk-accel-agent (cpu)"
ADDR=unix://$T/agent.sock
FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "$ADDR" --plugins cpu 2>"$T/agent.log" &
AGENT_PID=$!
# bounded wait for the agent's "listening on" line (it starts in well under a second)
for _ in $(seq 400); do
  grep -q "listening on" "$T/agent.log" 2>/dev/null && break
  kill -0 "$AGENT_PID" 2>/dev/null || break
  sleep 0.05
done
if grep -q "listening on" "$T/agent.log"; then
  FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=$ADDR "$PROG" "$IMG" || FAILS=$((FAILS + 1))
else
  echo "FAIL - the agent did not start"; cat "$T/agent.log"; FAILS=$((FAILS + 1))
fi
[ "$FAILS" = 0 ]
