#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/monitor: hello unikernel boot->exit as a process vs posix_spawn, crun, runc (and QEMU
# microvm when installed), measured side by side in this run; in-process boot; idle echo RSS.
# Uses FUNK_PREFIX (installed funk-monitor + unikernels) and FUNK_MESON_DIR (bench binaries).
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build/release}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
N=${BENCH_N:-1000}            # funk-monitor, posix_spawn, in-process
NB=${BENCH_CONTAINER_N:-200}  # crun / runc (each run costs 6-25 ms here)
BIN=$FUNK_MESON_DIR/bench/monitor/funk-bench-monitor
TINY=$FUNK_MESON_DIR/bench/monitor/funk-bench-tiny
MON=$FUNK_PREFIX/bin/funk-monitor
pick() { for f in "$@"; do [ -f "$f" ] && { echo "$f"; return; }; done; echo "$1"; }
HELLO=$(pick "$FUNK_PREFIX/unikernels/hello.elf" "$FUNK_MESON_DIR/functions/hello.elf")
ECHO=$(pick "$FUNK_PREFIX/unikernels/echo.elf" "$FUNK_MESON_DIR/functions/echo.elf")
for f in "$BIN" "$TINY" "$MON" "$HELLO"; do
    [ -e "$f" ] || { echo "bench/monitor: $f missing (make bench builds it)" >&2; exit 1; }
done
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "bench/monitor: /dev/kvm not usable: SKIPPED" >&2
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
RES=$T/results
: >"$RES"

echo "bench/monitor: $(nproc) CPUs, $(uname -r), funk-monitor $MON, guest $HELLO"
"$MON" "$HELLO" >/dev/null || { echo "bench/monitor: hello does not run" >&2; exit 1; }

# Warm-up, then the figure and the baselines back to back.
"$BIN" spawn warmup 20 "$MON" "$HELLO" >/dev/null
"$BIN" spawn funk-monitor "$N" "$MON" --isolation=kvm "$HELLO" >>"$RES"
"$BIN" spawn funk-monitor-process "$N" "$MON" --isolation=process "$HELLO" >>"$RES"
"$BIN" spawn posix_spawn-static "$N" "$TINY" >>"$RES"

# A static hello OCI bundle for runc and crun.
B=$T/bundle
mkdir -p "$B/rootfs"
cp "$TINY" "$B/rootfs/hello"
if command -v runc >/dev/null; then
    (cd "$B" && runc spec)
    python3 - "$B/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/hello"]
c["process"]["terminal"] = False
c["root"]["readonly"] = True
json.dump(c, open(p, "w"))
PY
    if runc run -b "$B" funk-bench-probe >/dev/null 2>&1; then
        "$BIN" spawn runc "$NB" "$(command -v runc)" run -b "$B" funk-bench-runc >>"$RES" ||
            echo "runc failed" >&2
    else
        echo "note: runc cannot run a container here" >&2
    fi
else
    echo "note: runc not installed (scripts/deps.d/monitor.txt lists it)" >&2
fi
if command -v crun >/dev/null && [ -f "$B/config.json" ]; then
    # crun 1.8 refuses hybrid cgroups: hide the v2 mount in a private mount namespace.
    unshare -m --propagation private bash -c "umount /sys/fs/cgroup/unified 2>/dev/null;
        crun run -b '$B' funk-bench-probe >/dev/null 2>&1 &&
        '$BIN' spawn crun '$NB' '$(command -v crun)' run -b '$B' funk-bench-crun" >>"$RES" ||
        echo "note: crun cannot run a container here" >&2
else
    echo "note: crun not installed (scripts/deps.d/monitor.txt lists it)" >&2
fi
if command -v qemu-system-x86_64 >/dev/null; then
    echo "note: qemu-system-x86_64 installed but no microvm guest image is built here: not measured" >&2
else
    echo "note: QEMU not installed: microvm baseline not measured" >&2
fi

"$BIN" inproc "$N" "$HELLO" >>"$RES"
"$BIN" inproc-process "$N" "$HELLO" >>"$RES"
"$BIN" loops kvm >>"$RES"
if [ -f "$ECHO" ]; then
    "$BIN" rss "$ECHO" >>"$RES"
    "$BIN" snapshot "$N" "$ECHO" process >>"$RES"
    "$BIN" snapshot "$N" "$ECHO" kvm >>"$RES"
fi

python3 - "$RES" <<'PY'
import sys
rows, rss, single = {}, None, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "rss":
        rss = [int(x) for x in f[1:]]
    elif len(f) == 2:
        single[f[0]] = float(f[1])
    else:
        rows[f[0]] = (int(f[1]), float(f[2]), float(f[3]), float(f[4]))
mon = rows["funk-monitor"][2]
names = [("funk-monitor", "funk-monitor hello.elf, kvm backend"),
         ("funk-monitor-process", "funk-monitor hello.elf, process backend"),
         ("posix_spawn-static", "posix_spawn static tiny binary"),
         ("crun", "crun run static hello"),
         ("runc", "runc run static hello")]
print("%-46s %6s %9s %9s %9s %9s" % ("exec -> exit", "N", "min ms", "p50 ms", "p99 ms", "p50/funk"))
for k, label in names:
    if k in rows:
        n, mn, md, p = rows[k]
        print("%-46s %6d %9.3f %9.3f %9.3f %8.2fx" % (label, n, mn / 1e3, md / 1e3, p / 1e3, md / mon))
    else:
        print("%-46s %6s  (not measured here)" % (label, "-"))
print()
print("%-46s %6s %9s %9s %9s" % ("in-process (pre-created 2 MiB shell)", "N", "min ms", "p50 ms", "p99 ms"))
for k, label in [("inproc-first-hypercall", "kvm: load + boot -> first hypercall"),
                 ("inproc-halt", "kvm: load + boot -> halt"),
                 ("process-first-hypercall", "process: load + fork + boot -> first hypercall"),
                 ("process-halt", "process: load + fork + boot -> halt"),
                 ("process-snapshot-restore-response", "process: snapshot restore -> echo response"),
                 ("process-snapshot-restore-halt", "process: snapshot restore -> halt"),
                 ("kvm-snapshot-restore-response", "kvm: snapshot restore -> echo response"),
                 ("kvm-snapshot-restore-halt", "kvm: snapshot restore -> halt"),
                 ("shell-create", "shell create (off the hot path)"),
                 ("shell-teardown", "shell teardown (off the hot path)")]:
    if k not in rows:
        continue
    n, mn, md, p = rows[k]
    print("%-46s %6d %9.3f %9.3f %9.3f" % (label, n, mn / 1e3, md / 1e3, p / 1e3))
if single:
    print()
    print("%-46s %12s %12s" % ("per iteration (median of runs, ns)", "value", "vs native"))
    nat = single.get("loop-native")
    for k, label in [("loop-native", "CPU loop (dec/jnz), native in the bench"),
                     ("loop-process", "CPU loop in a guest, process backend"),
                     ("loop-kvm", "CPU loop in a guest, kvm backend"),
                     ("hc-process", "hypercall round trip (WALLTIME), process"),
                     ("hc-kvm", "hypercall round trip (WALLTIME), kvm")]:
        if k in single:
            v = single[k]
            ratio = ("%.2fx" % (v / nat)) if k.startswith("loop") and nat else ""
            print("%-46s %12.3f %12s" % (label, v, ratio))
if rss:
    total, guest, over, base = rss
    print()
    print("idle echo unikernel (8 MiB guest, waiting in FN_RECV): host RSS %d KiB = %d KiB guest "
          "pages touched + %d KiB host (process baseline before the VM: %d KiB; growth %d KiB)"
          % (total, guest, over, base, total - base - guest))
print()
def check(name, ok):
    print("target %-58s %s" % (name, "MET" if ok else "NOT MET"))
check("funk-monitor p50 <= 2.2 ms", mon <= 2200)
if "crun" in rows:
    check("funk-monitor >= 2.5x faster than crun (p50)", rows["crun"][2] / mon >= 2.5)
if "runc" in rows:
    check("funk-monitor >= 8x faster than runc (p50)", rows["runc"][2] / mon >= 8)
check("in-process shell -> first hypercall p50 <= 0.3 ms", rows["inproc-first-hypercall"][2] <= 300)
if "funk-monitor-process" in rows:
    check("process backend: hello boot->halt p50 <= 1 ms", rows["funk-monitor-process"][2] <= 1000)
for b in ("process", "kvm"):
    k = b + "-snapshot-restore-response"
    if k in rows:
        check("%s: snapshot restore -> response p50 <= 0.3 ms" % b, rows[k][2] <= 300)
if "hc-process" in single:
    check("process backend: hypercall round trip <= 1 us", single["hc-process"] <= 1000)
if "loop-process" in single and "loop-native" in single:
    check("process backend: CPU-bound guest within 5% of native",
          single["loop-process"] <= 1.05 * single["loop-native"])
if rss:
    check("idle echo: <= 4 MiB host RSS beyond touched guest pages", rss[2] <= 4096)
PY
