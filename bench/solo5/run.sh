#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/solo5: Solo5-format hello and quiet unikernels (tests/monitor/solo5) exec -> exit under
# funk-monitor vs funk-ref-tender (a minimal Solo5-style hvt tender: KVM set-up, ELF load, run
# loop, no sandbox) and solo5-hvt when SOLO5_HVT names one, interleaved round robin in one run;
# and the same hello built as a Solo5 spt unikernel under funk-monitor (process backend, its
# own system calls under spt's filter), and under solo5-spt when SOLO5_SPT names one.
# Then the hvt hello through funkd (KVM, pre-created VM shells: a request per boot, answered with
# the console output) beside funk-monitor from the command line, in alternating rounds.
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
FUNKD_PID=
trap '[ -n "$FUNKD_PID" ] && kill "$FUNKD_PID" 2>/dev/null; rm -rf "$T"' EXIT
"$BIN" interleave "$N" "${CASES[@]}" >"$T/res"
rc=0
python3 - "$T/res" <<'PY' || rc=$?
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

# ---- through funkd: pre-created shells vs the command line, alternating rounds ----------------
FUNKD=$FUNK_PREFIX/bin/funkd
HTTP=$FUNK_PREFIX/lib/funk/bench/funk-bench-http
ROUNDS=${BENCH_SOLO5_ROUNDS:-5}
PER=$(( N / ROUNDS > 20 ? N / ROUNDS : 20 ))
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$FUNKD" --listen "127.0.0.1:$PORT" --state-dir "$T/state" --isolation kvm --log-level error \
    >"$T/funkd.log" 2>&1 &
FUNKD_PID=$!
for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.05
done
st=$(curl -s -o "$T/dep" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/system/functions" \
     -d "{\"service\":\"s5hello\",\"image\":\"$HELLO\",\"limits\":{\"memory\":\"${MEM}M\"}}")
[ "$st" = 202 ] || { echo "bench/solo5: funkd refused the hello ($st): $(cat "$T/dep")" >&2; exit 1; }
: >"$T/funkd.res"
: >"$T/cli.res"
for r in $(seq "$ROUNDS"); do
    "$HTTP" 127.0.0.1 "$PORT" /function/s5hello "$PER" 0 5 >>"$T/funkd.res" ||
        { echo "bench/solo5: requests through funkd failed" >&2; cat "$T/funkd.log" >&2; exit 1; }
    "$BIN" interleave "$PER" -- cli 1 "$MON" "--mem=$MEM" "$HELLO" Hello_Solo5 >>"$T/cli.res"
done
rc2=0
python3 - "$T/funkd.res" "$T/cli.res" "$PER" <<'PY' || rc2=$?
import statistics, sys
per = int(sys.argv[3])
http = [list(map(float, l.split()[:3])) + [int(l.split()[4])] for l in open(sys.argv[1]) if l.strip()]
cli = [[float(x) for x in l.split()[2:5]] + [int(l.split()[5])] for l in open(sys.argv[2]) if l.strip()]
# funk-bench-http: min median p99 (us) N_OK ERRORS; funk-bench-monitor: name n min med p99 errors
hm = statistics.median(r[1] for r in http) / 1000
cm = statistics.median(r[1] for r in cli) / 1000
errs = sum(r[3] for r in http) + sum(r[3] for r in cli)
print()
print("| hello, %d alternating rounds of %d | min ms | median of round medians ms | errors | speed-up |" % (len(http), per))
print("|---|---|---|---|---|")
print("| funk-monitor from the command line (exec, VM create, boot, exit) | %.3f | %.3f | %d | 1.00x |"
      % (min(r[0] for r in cli) / 1000, cm, sum(r[3] for r in cli)))
print("| through funkd: HTTP request -> pre-created VM shell -> boot -> console answer | %.3f | %.3f | %d | %.2fx (target >= 3x) |"
      % (min(r[0] for r in http) / 1000, hm, sum(r[3] for r in http), cm / hm))
sys.exit(1 if errs else 0)
PY
exit $(( rc || rc2 ))
