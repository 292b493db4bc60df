#!/usr/bin/env bash
# make run: the most complete end-to-end demo that exists, driving the real binaries:
#   1. the acceleration API natively (funk-accel: plugins, detect, classify, sgemm)
#   2. unikernels under funk-monitor: hello, echo, and classify calling the accelerator
#      through the ACCEL hypercall (in-process and via funk-accel-agent)
#   3. funkd (OpenFaaS API): deploy echo and classify, invoke them over HTTP with curl and the
#      funk CLI, show metrics; funkd then keeps running until Ctrl-C (ONCE=1: stop at the end)
set -uo pipefail
cd "$(dirname "$0")/.."
P=${FUNK_PREFIX:-$PWD/build}
export FUNK_MODEL_DIR=${FUNK_MODEL_DIR:-$PWD/.cache/models}
IMG=/usr/share/darknet/data/dog.jpg
TMP=$(mktemp -d /tmp/funk-demo.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; echo "(exit $?)"; }

step "accel plugins" "$P/bin/funk-accel" plugins
step "detect objects in dog.jpg (cpu plugin: OpenCV DNN, CenterNet COCO-80)" "$P/bin/funk-accel" detect "$IMG"
step "classify dog.jpg natively" "$P/bin/funk-accel" classify "$IMG" --top 5
step "sgemm 512^3 on OpenBLAS" "$P/bin/funk-accel" sgemm 512 512 512

step "hello unikernel (isolation auto: process backend here, no hardware virtualization)" \
    "$P/bin/funk-monitor" --verbose "$P/unikernels/hello.elf"
step "the same ELF under KVM" "$P/bin/funk-monitor" --isolation=kvm "$P/unikernels/hello.elf"
echo 'hello from make run' >"$TMP/body"
step "echo unikernel answering one request" "$P/bin/funk-monitor" --fn-input="$TMP/body" "$P/unikernels/echo.elf"
step "classify unikernel: ACCEL hypercall served in-process" \
    "$P/bin/funk-monitor" --fn-input="$IMG" "$P/unikernels/classify.elf"
"$P/bin/funk-accel-agent" --listen "unix://$TMP/accel.sock" 2>"$TMP/agent.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$TMP/accel.sock" ] && break; sleep 0.1; done
step "classify unikernel: ACCEL forwarded to funk-accel-agent" \
    "$P/bin/funk-monitor" --accel="agent:unix://$TMP/accel.sock" --fn-input="$IMG" "$P/unikernels/classify.elf"
step "native program, rpc plugin -> agent (how a container reaches the accelerator)" \
    env FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS="unix://$TMP/accel.sock" "$P/bin/funk-accel" classify "$IMG" --top 3

# ---- funkd + funk CLI: functions as unikernels behind the OpenFaaS API ----
PORT=${FUNK_DEMO_PORT:-8080}
export FUNK_GATEWAY=http://127.0.0.1:$PORT
if curl -s -o /dev/null "$FUNK_GATEWAY/healthz"; then
  echo "port $PORT is busy: set FUNK_DEMO_PORT to another port"; exit 1
fi
UP=$("$P/bin/funk" daemon -d --listen "127.0.0.1:$PORT" --state-dir "$TMP/state")
echo "$UP"
GW_PID=$(sed -n 's/.*pid \([0-9]*\).*/\1/p' <<<"$UP")
[ -n "$GW_PID" ] && PIDS+=("$GW_PID")
step "deploy echo: a fresh unikernel per request" "$P/bin/funk" deploy --name echo --image "$P/unikernels/echo.elf"
step "deploy echo-snap: restored from a snapshot per request" "$P/bin/funk" deploy --name echo-snap --image "$P/unikernels/echo.elf" --label com.funk.mode=snapshot
step "deploy echo-warm: a warm instance that scales to zero when idle" "$P/bin/funk" deploy --name echo-warm --image "$P/unikernels/echo.elf" --mode warm
step "deploy classify: a unikernel using the accelerator" "$P/bin/funk" deploy --name classify --image "$P/unikernels/classify.elf"
step "invoke echo over HTTP" curl -s -i -d 'hello from funkd' "$FUNK_GATEWAY/function/echo"
step "invoke echo-snap with the CLI" sh -c "echo 'hi via funk invoke' | '$P/bin/funk' invoke echo-snap"
step "invoke echo-warm" curl -s -d 'warm hello' "$FUNK_GATEWAY/function/echo-warm"
step "classify dog.jpg through funkd" curl -s --data-binary "@$IMG" "$FUNK_GATEWAY/function/classify"
echo
step "functions" "$P/bin/funk" ls
step "metrics" sh -c "curl -s $FUNK_GATEWAY/metrics | grep -E '^(gateway_function_invocation_total|funk_boot_seconds_count|funk_instances)'"
if [ -n "${ONCE:-}" ] || [ ! -t 0 ]; then
  echo; echo "demo done (funkd stopped)"
else
  echo; echo "funkd keeps running at $FUNK_GATEWAY (pid $GW_PID): try"
  echo "  curl --data-binary @$IMG $FUNK_GATEWAY/function/classify"
  echo "Ctrl-C to stop"
  trap 'exit 0' INT TERM
  while kill -0 "$GW_PID" 2>/dev/null; do sleep 1; done
fi
