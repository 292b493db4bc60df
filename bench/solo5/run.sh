#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/solo5: Solo5-format hello and quiet unikernels (tests/monitor/solo5) exec -> exit under
# funk-monitor vs funk-ref-tender (a minimal Solo5-style hvt tender: KVM set-up, ELF load, run
# loop, no sandbox) and solo5-hvt when SOLO5_HVT names one, interleaved round robin in one run;
# and the same hello built as a Solo5 spt unikernel under funk-monitor (process backend, its
# own system calls under spt's filter), and under solo5-spt when SOLO5_SPT names one.
# (No "--" inside a command: funk-bench-monitor uses it to separate the cases.)
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
N=${BENCH_N:-1000}
MEM=${BENCH_SOLO5_MEM:-8}
BIN=$FUNK_MESON_DIR/bench/monitor/funk-bench-monitor
REF=$FUNK_MESON_DIR/bench/solo5/funk-ref-tender
MON=$FUNK_PREFIX/bin/funk-monitor
HELLO=$FUNK_MESON_DIR/tests/monitor/solo5/solo5-test-hello.hvt
SPT_HELLO=$FUNK_MESON_DIR/tests/monitor/solo5/solo5-test-spt-hello.spt
for f in "$BIN" "$REF" "$MON" "$HELLO" "$SPT_HELLO"; do
    [ -e "$f" ] || { echo "bench/solo5: $f missing (make bench builds it)" >&2; exit 1; }
done
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ] || ! "$MON" "--mem=$MEM" "$HELLO" >/dev/null 2>&1; then
    echo "bench/solo5: KVM does not run the Solo5 hello here: nothing to measure" >&2
    exit 77
fi
"$REF" "--mem=$MEM" "$HELLO" >/dev/null ||
    { echo "bench/solo5: the reference tender does not run hello" >&2; exit 1; }
echo "bench/solo5: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "--mem=$MEM, guest $HELLO"
CASES=(-- funk-monitor-hello 1 "$MON" "--mem=$MEM" "$HELLO" Hello_Solo5
       -- ref-tender-hello 1 "$REF" "--mem=$MEM" "$HELLO" Hello_Solo5
       -- funk-monitor-quiet 1 "$MON" "--mem=$MEM" "$HELLO" --solo5:quiet
       -- ref-tender-quiet 1 "$REF" "--mem=$MEM" "$HELLO" --solo5:quiet
       -- funk-monitor-spt-hello 1 "$MON" "--mem=$MEM" "$SPT_HELLO" Hello_Solo5
       -- funk-monitor-spt-quiet 1 "$MON" "--mem=$MEM" "$SPT_HELLO" --solo5:quiet)
if [ -n "${SOLO5_SPT:-}" ]; then
    CASES+=(-- solo5-spt-hello 1 "$SOLO5_SPT" "--mem=$MEM" "$SPT_HELLO" Hello_Solo5
            -- solo5-spt-quiet 1 "$SOLO5_SPT" "--mem=$MEM" "$SPT_HELLO" --solo5:quiet)
fi
if [ -n "${SOLO5_HVT:-}" ]; then
    CASES+=(-- solo5-hvt-hello 1 "$SOLO5_HVT" "--mem=$MEM" "$HELLO" Hello_Solo5
            -- solo5-hvt-quiet 1 "$SOLO5_HVT" "--mem=$MEM" "$HELLO" --solo5:quiet)
else
    echo "note: SOLO5_HVT not set: solo5-hvt itself not measured (funk-ref-tender stands in)" >&2
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" interleave "$N" "${CASES[@]}" >"$T/res"
python3 - "$T/res" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows[f[0]] = (int(f[1]), float(f[2]) / 1000, float(f[3]) / 1000, float(f[4]) / 1000,
                  int(f[5]))  # funk-bench-monitor reports microseconds
print("| exec -> exit (interleaved) | N | min ms | p50 ms | p99 ms | errors | p50 vs ref-tender |")
print("|---|---|---|---|---|---|---|")
errs = 0
for kind in ("hello", "quiet"):
    ref = rows.get("ref-tender-" + kind)
    for who in ("funk-monitor", "ref-tender", "solo5-hvt", "funk-monitor-spt", "solo5-spt"):
        k = who + "-" + kind
        if k not in rows:
            continue
        n, mn, md, p, e = rows[k]
        errs += e
        ratio = "%.2fx" % (md / ref[2]) if ref and ref[0] and n else "-"
        print("| %s %s | %d | %.3f | %.3f | %.3f | %d | %s |" % (who, kind, n, mn, md, p, e, ratio))
sys.exit(1 if errs else 0)
PY
