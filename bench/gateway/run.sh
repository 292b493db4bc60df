#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# funkd benchmark: cold invocation over HTTP (fresh unikernel per request, echo: pre-booted to its
# first FN_RECV ahead of the call, and booted on the call) and warm
# throughput (wrk), with the same echo as a natively forked process per request behind the same
# funkd (com.funk.invoke=exec, of-watchdog's serializing mode equivalent) measured in the same run.
set -euo pipefail
PREFIX=${FUNK_PREFIX:-$(cd "$(dirname "$0")/../.." && pwd)/build/release}
N=${N:-1000}
WRK_SECONDS=${WRK_SECONDS:-60}
WRK_CONN=${WRK_CONN:-8}
FUNKD=$PREFIX/bin/funkd
CLIENT=$PREFIX/bin/funk-bench-http
ECHO=$PREFIX/unikernels/echo.elf
NATIVE=$PREFIX/bin/funk-echo-native
for f in "$FUNKD" "$CLIENT" "$ECHO" "$NATIVE"; do
  [ -e "$f" ] || { echo "bench/gateway: missing $f (build and install first)"; exit 1; }
done
KVM=1
if { exec 3<>/dev/kvm; } 2>/dev/null; then exec 3>&-; else
  KVM=0; echo "bench/gateway: /dev/kvm does not work here: kvm-backend rows skipped"
fi
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$FUNKD" --listen 127.0.0.1:$PORT --state-dir "$TMP/state" --log-level warn --pool 8 >"$TMP/funkd.log" 2>&1 &
FPID=$!
trap 'kill $FPID 2>/dev/null; wait $FPID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
deploy() { # name image labels-json
  curl -fs -X POST "http://127.0.0.1:$PORT/system/functions" \
    -d "{\"service\":\"$1\",\"image\":\"$2\",\"labels\":$3}" >/dev/null ||
    { echo "bench/gateway: deploy $1 failed"; cat "$TMP/funkd.log"; exit 1; }
}
deploy native "$NATIVE" '{"com.funk.invoke":"exec"}'
deploy cold-proc "$ECHO" '{"com.funk.isolation":"process"}'
if [ $KVM = 1 ]; then deploy cold-kvm "$ECHO" '{"com.funk.isolation":"kvm"}'; fi
deploy boot-proc "$ECHO" '{"com.funk.isolation":"process","com.funk.preboot":"0"}'
deploy snap-proc "$ECHO" '{"com.funk.isolation":"process","com.funk.mode":"snapshot"}'
if [ $KVM = 1 ]; then deploy snap-kvm "$ECHO" '{"com.funk.isolation":"kvm","com.funk.mode":"snapshot"}'; fi
if [ $KVM = 1 ]; then deploy boot-kvm "$ECHO" '{"com.funk.isolation":"kvm","com.funk.preboot":"0"}'; fi
deploy warm-proc "$ECHO" '{"com.funk.isolation":"process","com.funk.mode":"warm","com.openfaas.scale.min":"2","com.openfaas.scale.max":"2"}'
if [ $KVM = 1 ]; then deploy warm-kvm "$ECHO" '{"com.funk.isolation":"kvm","com.funk.mode":"warm","com.openfaas.scale.min":"2","com.openfaas.scale.max":"2"}'; fi

echo "funkd cold invocation over HTTP, echo, 64-byte body, one keep-alive connection, N=$N (us)"
printf "%-44s %9s %9s %9s %6s\n" case min median p99 N
declare -A MED
for c in native cold-proc boot-proc snap-proc cold-kvm boot-kvm snap-kvm warm-proc warm-kvm; do
  [ $KVM = 1 ] || [ "${c%-kvm}" = "$c" ] || continue
  read -r mn md p99 n err < <("$CLIENT" 127.0.0.1 "$PORT" "/function/$c" "$N" 64 20)
  MED[$c]=$md
  case $c in
    native) label="baseline: native echo forked per request";;
    cold-proc) label="fresh unikernel/request, pre-booted (process)";;
    boot-proc) label="fresh unikernel/request, booted on call (process)";;
    cold-kvm) label="fresh unikernel/request, pre-booted (kvm)";;
    boot-kvm) label="fresh unikernel/request, booted on call (kvm)";;
    snap-proc) label="snapshot restore per request (process)";;
    snap-kvm) label="snapshot restore per request (kvm)";;
    warm-proc) label="warm unikernel (process backend)";;
    warm-kvm) label="warm unikernel (kvm backend)";;
  esac
  printf "%-44s %9s %9s %9s %6s\n" "$label" "$mn" "$md" "$p99" "$n"
done
# Sparse arrivals: one call every 5 ms, the case pre-booting is for (the pool refills between calls).
GAP_N=$(( N < 300 ? N : 300 ))
for c in native cold-proc boot-proc snap-proc; do
  read -r mn md p99 n err < <("$CLIENT" 127.0.0.1 "$PORT" "/function/$c" "$GAP_N" 64 5 5000)
  MED[gap-$c]=$md
  printf "%-44s %9s %9s %9s %6s\n" "$c, one call every 5 ms" "$mn" "$md" "$p99" "$n"
done
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo "sparse arrivals: native-fork median / pre-booted unikernel median = $(ratio "${MED[gap-native]}" "${MED[gap-cold-proc]}")x"
echo "ratio native-fork median / fresh-unikernel median (>1: unikernel faster): pre-booted process $(ratio "${MED[native]}" "${MED[cold-proc]}")x, booted on call process $(ratio "${MED[native]}" "${MED[boot-proc]}")x, snapshot process $(ratio "${MED[native]}" "${MED[snap-proc]}")x"
if [ $KVM = 1 ]; then echo "  kvm backend: pre-booted $(ratio "${MED[native]}" "${MED[cold-kvm]}")x, booted on call $(ratio "${MED[native]}" "${MED[boot-kvm]}")x"; fi

if command -v wrk >/dev/null; then
  echo
  echo "warm throughput: wrk -t2 -c$WRK_CONN -d${WRK_SECONDS}s, echo, 2 instances (req/s; non-2xx)"
  printf "%-44s %10s %8s\n" case req/s non2xx
  declare -A RPS
  for c in warm-proc warm-kvm native cold-proc boot-proc snap-proc; do
    [ $KVM = 1 ] || [ "${c%-kvm}" = "$c" ] || continue
    secs=$WRK_SECONDS
    [ "$c" = warm-proc ] || secs=$(( WRK_SECONDS < 10 ? WRK_SECONDS : 10 ))
    out=$(wrk -t2 -c"$WRK_CONN" -d"${secs}s" "http://127.0.0.1:$PORT/function/$c")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $5}' <<<"$out"); bad=${bad:-0}
    RPS[$c]=$rps
    printf "%-44s %10s %8s\n" "$c (${secs}s)" "$rps" "$bad"
  done
  echo "ratio warm-proc / native-fork: $(ratio "${RPS[warm-proc]}" "${RPS[native]}")x"
  if [ $KVM = 1 ]; then echo "ratio warm-kvm / native-fork: $(ratio "${RPS[warm-kvm]}" "${RPS[native]}")x"; fi
else
  echo "wrk not installed: warm throughput skipped"
fi
echo "not measured: crun run per request (crun needs the cgroup workaround of notes/machine.md"
echo "and an OCI bundle per call; bench/oci measures crun)"
