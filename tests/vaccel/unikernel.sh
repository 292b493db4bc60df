#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vAccel's API from inside a unikernel: the programs written the way vAccel's examples are
# (noop.c, sgemm.c, image.c, pose.c, segment.c, unchanged) are built with the installed
# `funk-cc --vaccel` (the layer on musl over the guest's ACCEL hypercalls) and run under
# funk-monitor --linux, their photos in the read-only bundle; their output must equal the same
# source built natively against libvaccel (meson's vaccel-* programs), on the process backend
# and under KVM where there is one. A URL resource is refused inside (no network), with the reason.
# Usage: unikernel.sh FUNK-CC FUNK-MONITOR NATIVE-DIR (holding vaccel-noop, -sgemm, -image, ...)
set -u
FCC=${1:?usage: unikernel.sh FUNK-CC FUNK-MONITOR NATIVE-DIR}
MON=${2:?}
NAT=${3:?}
SRC=$(cd "$(dirname "$0")" && pwd)
IMG=/usr/share/darknet/data/dog.jpg
PERSON=/usr/share/darknet/data/person.jpg
fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

command -v musl-gcc >/dev/null || { echo "SKIP: musl-gcc missing (Debian musl-tools): no funk-cc --linux here"; exit 77; }
[ -x "$FCC" ] || { echo "FAIL: $FCC is not installed (meson install / make build-test first)"; exit 1; }
T=$(mktemp -d /tmp/funk-vaccel-uk.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bundle/img"
for p in noop sgemm image pose segment; do
  cp "$SRC/$p.c" "$T/"
  if (cd "$T" && "$FCC" --vaccel -O2 -Wall -I"$SRC" -o "$p" "$p.c" 2>"$T/$p.cc"); then
    ok "funk-cc --vaccel $p.c (unchanged)"
  else
    bad "funk-cc --vaccel $p.c: $(head -c 600 "$T/$p.cc")"
  fi
done
have_img=0
if [ -r "$IMG" ] && [ -r "${FUNK_MODEL_DIR:-}/centernet.onnx" ]; then
  cp "$IMG" "$T/bundle/img/dog.jpg"
  have_img=1
else
  echo "note: $IMG or the models are missing: the image cases are left out"
fi
have_person=0
if [ -r "$PERSON" ] && [ -r "${FUNK_MODEL_DIR:-}/movenet.onnx" ] && [ -r "${FUNK_MODEL_DIR:-}/selfie.onnx" ]; then
  cp "$PERSON" "$T/bundle/img/person.jpg"
  have_person=1
fi

isos=(process)
[ -r /dev/kvm ] && [ -w /dev/kvm ] && isos+=(kvm)
# same CASE PLUGINS PROG ARGS...: the unikernel's stdout equals the native program's
same() {
  local name=$1 plugins=$2 prog=$3
  shift 3
  local nat_args=("$@") uk_args=("$@") i
  for i in "${!nat_args[@]}"; do # bundle paths natively: the same files on the host
    case ${nat_args[$i]} in /img/*) nat_args[$i]=$T/bundle${nat_args[$i]} ;; esac
  done
  FUNK_ACCEL_PLUGINS=$plugins "$NAT/vaccel-$prog" "${nat_args[@]}" >"$T/nat.out" 2>"$T/nat.err"
  local nrc=$?
  for iso in "${isos[@]}"; do
    FUNK_ACCEL_PLUGINS=$plugins timeout 300 "$MON" --linux --isolation="$iso" --mem=128 \
      --bundle="$T/bundle" "$T/$prog" "${uk_args[@]}" </dev/null >"$T/uk.out" 2>"$T/uk.err"
    local urc=$?
    if [ "$urc" = "$nrc" ] && [ -s "$T/uk.out" ] && cmp -s "$T/nat.out" "$T/uk.out"; then
      ok "$iso: $name: the same output as natively (exit $urc)"
    else
      bad "$iso: $name: exit $urc (native $nrc); unikernel: $(head -c 400 "$T/uk.out") $(tail -c 400 "$T/uk.err"); native: $(head -c 400 "$T/nat.out")"
    fi
  done
}
same noop noop noop
same sgemm cpu sgemm
if [ "$have_img" = 1 ]; then
  same classify cpu image classify /img/dog.jpg
  same classify_generic cpu image classify_generic /img/dog.jpg
  same detect cpu image detect /img/dog.jpg
  grep -q "dog" "$T/uk.out" && ok "the detections name the dog" || bad "no dog: $(cat "$T/uk.out")"
fi
if [ "$have_person" = 1 ]; then
  same pose cpu pose /img/person.jpg
  same segment cpu segment /img/person.jpg
fi

# a model given by URL: no network inside, a clear refusal (the native layer would fetch it)
FUNK_ACCEL_PLUGINS=cpu timeout 120 "$MON" --linux --mem=128 --bundle="$T/bundle" "$T/image" \
  classify /img/dog.jpg 1 http://127.0.0.1:9/model.onnx </dev/null >"$T/u.out" 2>"$T/u.err"
rc=$?
if [ "$rc" != 0 ] && grep -q "not available inside a unikernel" "$T/u.err"; then
  ok "a URL resource inside the unikernel is refused with the reason (exit $rc)"
else
  bad "URL resource: exit $rc, $(tail -c 400 "$T/u.err")"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "vAccel programs run unchanged inside funk unikernels"
