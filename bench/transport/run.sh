#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/transport: noop round trips (direct call, local dispatch, rpc plugin via the agent over a
# unix socket, a unikernel's ACCEL hypercall via the monitor's private agent and via a listening
# agent) and classify natively, via the agent and from unikernels, interleaved in one run;
# min/median/p99/N and ratios.
# Uses FUNK_PREFIX (installed binaries/plugins) and FUNK_MESON_DIR (the samplers).
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
BIN=$FUNK_MESON_DIR/bench/transport/funk-bench-transport
UK=$FUNK_MESON_DIR/bench/transport/bench_transport_uk.elf
MONITOR=$FUNK_PREFIX/bin/funk-monitor
AGENT=$FUNK_PREFIX/bin/funk-accel-agent
ISO=${BENCH_TRANSPORT_ISOLATION:-process}
IMG=/usr/share/darknet/data/dog.jpg
ROUNDS=${BENCH_TRANSPORT_ROUNDS:-5}
CLS_N=${BENCH_TRANSPORT_CLASSIFY:-6}
NOOP_N=${BENCH_TRANSPORT_NOOP:-4000}
for f in "$BIN" "$AGENT"; do
  [ -x "$f" ] || { echo "bench/transport: $f not built (make bench builds it)" >&2; exit 1; }
done
export FUNK_ACCEL_PLUGIN_PATH=$FUNK_PREFIX/lib/funk
export FUNK_MODEL_DIR=${FUNK_MODEL_DIR:-$PWD/.cache/models}
unset FUNK_ACCEL_PROFILE
if ldd "$BIN" | grep -q libasan; then
  echo "bench/transport: WARNING: built with sanitizers; figures are not representative"
fi
T=$(mktemp -d /tmp/funk-bench-transport.XXXXXX)
SOCK=$T/accel.sock
"$AGENT" --listen "unix://$SOCK" --plugins cpu:noop 2>"$T/agent.log" &
AP=$!
trap 'kill $AP 2>/dev/null; wait $AP 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
export FUNK_ACCEL_RPC_ADDRESS=unix://$SOCK

# Unikernel rows: the guest times its own ACCEL calls (bench_transport_uk.elf). "private": the
# monitor's own funk-accel-agent child (the default, monitor/accel_private.c); "agent": the
# agent above, reached at its address.
(printf 'classify %s classify-uk-private\n' $((CLS_N + 1)); cat "$IMG") >"$T/cls-in.bin"
(printf 'classify %s classify-uk-agent\n' $((CLS_N + 1)); cat "$IMG") >"$T/cls-ag.bin"
printf 'noop %s noop-uk-private\n' $((NOOP_N / 100)) >"$T/noop-in.txt"
printf 'noop %s noop-uk-agent\n' $((NOOP_N / 100)) >"$T/noop-ag.txt"
uk() { # uk private|agent PLUGINS INPUT
  [ -x "$MONITOR" ] && [ -f "$UK" ] || return 0
  local accel=private
  [ "$1" = agent ] && accel=agent:unix://$SOCK
  FUNK_ACCEL_PLUGINS=$2 "$MONITOR" --isolation="$ISO" --mem=64 --accel=$accel --fn-input="$3" \
    "$UK" 2>>"$T/uk.err" | grep -E '^(SAMPLE|ERROR)' || true
}

echo "bench/transport: $(nproc) CPUs, $(uname -r); $ROUNDS interleaved rounds; unikernels: --isolation=$ISO"
for r in $(seq "$ROUNDS"); do
  FUNK_ACCEL_PLUGINS=noop "$BIN" noop-local dispatch $((NOOP_N / 20)) >>"$T/samples"
  FUNK_ACCEL_PLUGINS=rpc "$BIN" noop rpc-agent "$NOOP_N" >>"$T/samples"
  uk private noop "$T/noop-in.txt" >>"$T/samples"
  uk agent noop "$T/noop-ag.txt" >>"$T/samples"
  FUNK_ACCEL_PLUGINS=cpu "$BIN" classify classify-native "$CLS_N" "$IMG" >>"$T/samples"
  FUNK_ACCEL_PLUGINS=rpc "$BIN" classify classify-rpc-agent "$CLS_N" "$IMG" >>"$T/samples"
  uk private cpu "$T/cls-in.bin" >>"$T/samples"
  uk agent cpu "$T/cls-ag.bin" >>"$T/samples"
done
grep -h '^ERROR' "$T/samples" | sort -u | sed 's|^|bench/transport: unikernel row failed: |' || true
grep -h "funk-accel-agent" "$T/uk.err" 2>/dev/null | sort -u | sed 's|^|bench/transport: |' || true

python3 - "$T/samples" <<'PY'
import sys, collections
s = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 3 and p[0] == "SAMPLE":
        s[p[1]].append(float(p[2]))
def st(v):
    v = sorted(v)
    return v[0], v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))]
def row(name, base, unit, div):
    if name not in s:
        print("%-24s %7s   (no samples)" % (name, "-"))
        return
    mn, md, p99 = st(s[name])
    ratio = ""
    if base in s and base != name:
        bmn, bmd, _ = st(s[base])
        ratio = "x%.2f vs %s (min x%.2f)" % (md / bmd, base, mn / bmn)
        if unit == "ms":
            ratio = "%+.1f%% vs %s (min %+.1f%%)" % ((md / bmd - 1) * 100, base, (mn / bmn - 1) * 100)
    print("%-24s %7d %11.3f %11.3f %11.3f %s  %s" % (name, len(s[name]), mn / div, md / div, p99 / div, unit, ratio))
print("%-24s %7s %11s %11s %11s" % ("noop round trip", "N", "min", "median", "p99"))
row("direct", "direct", "ns", 1)
row("dispatch", "direct", "ns", 1)
row("rpc-agent", "dispatch", "us", 1e3)
row("noop-uk-private", "rpc-agent", "us", 1e3)
row("noop-uk-agent", "rpc-agent", "us", 1e3)
print("%-24s %7s %11s %11s %11s" % ("classify dog.jpg", "N", "min", "median", "p99"))
row("classify-native", "classify-native", "ms", 1e6)
row("classify-rpc-agent", "classify-native", "ms", 1e6)
row("classify-uk-private", "classify-native", "ms", 1e6)
row("classify-uk-agent", "classify-native", "ms", 1e6)
print("targets: unikernel noop <= 30 us via an agent (private or listening); classify overhead <= 3%")
print("(noop-uk: means of batches of 100 calls, guest clock; classify-uk: per call, guest clock)")
PY
