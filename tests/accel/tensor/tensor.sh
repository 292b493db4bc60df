#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# accel-tensor: the test's own models (ONNX written with python3-onnx, TorchScript written with
# libtorch) run natively on the cpu and torch plugins and through funk-accel-agent (rpc plugin),
# each checked against a reference computed by test_tensor; hostile tensor descriptors are
# refused by the native runtime ("model_run") and by the agent ("rpc.model_run").
set -uo pipefail
TEST=$1 AGENT=$2 MAKE_ONNX=$3 OPENCL=$4 MAKE_TS=${5:-}
T=$(mktemp -d /tmp/funk-tensor.XXXXXX)
FAILS=0
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

PY=
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import onnx' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "SKIP: python3-onnx is missing (scripts/deps.sh installs it)"
  exit 77
fi
"$PY" "$MAKE_ONNX" "$T/model.onnx" || { echo "FAIL: make_onnx.py"; exit 1; }
MODELS=("$T/model.onnx:onnx:cpu")
if [ -n "$MAKE_TS" ]; then
  "$MAKE_TS" "$T/model.pt" || { echo "FAIL: make_torchscript"; exit 1; }
  MODELS+=("$T/model.pt:torchscript:torch")
else
  echo "NOTE: torch plugin not built (no libtorch-dev): TorchScript rows not run"
fi

run() { # NAME CMD...: reports the test client's verdict (77: the row cannot run here)
  local name=$1 rc
  shift
  "$@" >"$T/out" 2>&1
  rc=$?
  if [ $rc = 0 ]; then ok "$name"
  elif [ $rc = 77 ]; then echo "NOTE - $name not run: $(grep SKIP "$T/out")"
  else bad "$name"; cat "$T/out"; fi
}

# Natively, each backend alone (so a fallback cannot hide which one answered).
for m in "${MODELS[@]}"; do
  IFS=: read -r file fmt plugin <<<"$m"
  run "native $plugin $fmt" env FUNK_ACCEL_PLUGINS="$plugin" "$TEST" "$file" "$fmt" model_run
done
# The opencl plugin (OpenCV DNN, OpenCL target) where built; without a device it cannot run.
# No leak check in this row (as tests/gpu's PoCL runs): PoCL compiles kernels on its own threads
# and LLVM keeps that state for the process's life, beyond the plugin's LSan brackets.
if [ "$OPENCL" = opencl ]; then
  run "native opencl onnx" env FUNK_ACCEL_PLUGINS=opencl FUNK_TENSOR_MAY_BE_ABSENT=1 \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    "$TEST" "$T/model.onnx" onnx model_run
else
  echo "NOTE: opencl plugin not built: its row not run"
fi
# The cpu plugin declines TorchScript and the torch plugin ONNX: both loaded, both models run.
if [ -n "$MAKE_TS" ]; then
  for m in "${MODELS[@]}"; do
    IFS=: read -r file fmt plugin <<<"$m"
    run "native cpu:torch $fmt" env FUNK_ACCEL_PLUGINS=cpu:torch "$TEST" "$file" "$fmt" model_run
  done
fi

# Through the agent.
SOCK=$T/agent.sock
plugins=cpu
[ -n "$MAKE_TS" ] && plugins=cpu:torch
"$AGENT" --listen "unix://$SOCK" --plugins "$plugins" 2>"$T/agent.log" &
AGENT_PID=$!
for _ in $(seq 400); do
  grep -q "listening on" "$T/agent.log" 2>/dev/null && break
  kill -0 "$AGENT_PID" 2>/dev/null || break
  sleep 0.05
done
if ! grep -q "listening on" "$T/agent.log"; then
  bad "agent did not start"; cat "$T/agent.log"
else
  for m in "${MODELS[@]}"; do
    IFS=: read -r file fmt plugin <<<"$m"
    run "agent (rpc) $fmt" env FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS="unix://$SOCK" \
      "$TEST" "$file" "$fmt" rpc.model_run
  done
  kill -0 "$AGENT_PID" 2>/dev/null && ok "agent alive after hostile descriptors" \
    || bad "agent died"
fi

[ "$FAILS" = 0 ] && echo "accel-tensor: all passed" || echo "accel-tensor: $FAILS failure(s)"
[ "$FAILS" = 0 ]
