#!/usr/bin/env bash
# make run: the most complete end-to-end demo that exists today, driving the real binaries.
#   1. the acceleration API natively: funk-accel lists plugins, detects and classifies dog.jpg
#   2. unikernels under funk-monitor: hello, and echo answering one request
set -uo pipefail
cd "$(dirname "$0")/.."
P=${FUNK_PREFIX:-$PWD/build}
export FUNK_MODEL_DIR=${FUNK_MODEL_DIR:-$PWD/.cache/models}
IMG=/usr/share/darknet/data/dog.jpg
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; echo "(exit $?)"; }

step "accel plugins" "$P/bin/funk-accel" plugins
step "detect objects in dog.jpg (cpu plugin, OpenCV DNN, CenterNet)" "$P/bin/funk-accel" detect "$IMG"
step "classify dog.jpg" "$P/bin/funk-accel" classify "$IMG" --top 5
step "sgemm 512^3 on OpenBLAS" "$P/bin/funk-accel" sgemm 512 512 512
if [ -x "$P/bin/funk-monitor" ]; then
  step "hello unikernel" "$P/bin/funk-monitor" "$P/unikernels/hello.elf"
  echo 'hello from make run' >/tmp/funk-demo-body.$$
  step "echo unikernel answering one request" "$P/bin/funk-monitor" --fn-input=/tmp/funk-demo-body.$$ "$P/unikernels/echo.elf"
  rm -f /tmp/funk-demo-body.$$
fi
