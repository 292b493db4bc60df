#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/arm64: hello boot->halt (funk-monitor exec to exit) on arm64 under both backends, measured
# INSIDE an emulated arm64 system (qemu-system-aarch64 TCG, virtualization=on: the same system as
# the arm64-system test). Every figure is of emulation on this machine, not of arm64 hardware:
# only the ratio between the rows, from one run, means anything. Needs make cross-arm64 (the
# cross build in build/arm64; else skipped, exit 77). BENCH_ARM64_N rounds (default 100, ~45 s here).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PREFIX=${FUNK_ARM64_PREFIX:-$ROOT/build/arm64}
SPAWN=${FUNK_ARM64_MESON_DIR:-$PREFIX/meson}/bench/arm64/funk-bench-spawn
N=${BENCH_ARM64_N:-100}
ARM64_WHO=bench/arm64
. tests/arm64/emulate-lib.sh
arm64_need_qemu
for f in "$PREFIX/bin/funk-monitor" "$PREFIX/unikernels/hello.elf" "$SPAWN"; do
  [ -e "$f" ] || skip "$f missing: run make cross-arm64 first (the arm64 benchmark runs the cross build)"
done
arm64_fetch
work=$(mktemp -d /tmp/funk-arm64-bench.XXXXXX) || fail "mktemp"
trap 'rm -rf "$work"' EXIT
rd=$work/root
arm64_root "$rd"
cp "$PREFIX/bin/funk-monitor" "$SPAWN" "$rd/bin/" && cp "$PREFIX/unikernels/hello.elf" "$rd/uk/" ||
  fail "cannot copy the binaries"
cat >"$rd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
funk-bench-spawn $N -- kvm /bin/funk-monitor --isolation=kvm /uk/hello.elf \
  -- process /bin/funk-monitor --isolation=process /uk/hello.elf \
  -- busybox-true /bin/busybox true 2>&1 | sed 's/^/BENCH: /'
echo "BENCH: done"
poweroff -f
INIT
chmod +x "$rd/init"
log=$work/console.log
arm64_boot "$rd" "$log"
rc=$?
grep -aq 'BENCH: done' "$log" || { tail -20 "$log" >&2; fail "the emulated system did not finish (rc $rc)"; }
grep -a '^BENCH: ' "$log" | sed 's/^BENCH: //' | grep -v '^done' | python3 -c '
import sys
rows = {}
for line in sys.stdin:
    f = line.split()
    if len(f) == 6:
        rows[f[0]] = f[1:]
    else:
        print("note:", line.strip())
print("arm64 under emulation (qemu-system-aarch64 TCG, -cpu max, KVM through the emulated EL2),")
print("hello unikernel, funk-monitor exec -> exit, interleaved, one run: ratios only")
print("%-44s %6s %10s %10s %10s %6s" % ("case", "N", "min ms", "p50 ms", "p99 ms", "errors"))
names = {"kvm": "funk-monitor --isolation=kvm hello.elf",
         "process": "funk-monitor --isolation=process hello.elf",
         "busybox-true": "posix_spawn busybox true (baseline)"}
for k in ("kvm", "process", "busybox-true"):
    if k in rows:
        n, mn, md, p, e = rows[k]
        print("%-44s %6s %10.2f %10.2f %10.2f %6s" % (names[k], n, float(mn) / 1e3, float(md) / 1e3,
                                                     float(p) / 1e3, e))
if "kvm" in rows and "process" in rows and float(rows["process"][2]) > 0:
    print("kvm / process p50: %.2fx" % (float(rows["kvm"][2]) / float(rows["process"][2])))
print("x86_64 under the same emulation: not measured (QEMU TCG has no VMX, so an emulated x86_64")
print("has no KVM to compare; bench/monitor has this machine's own x86_64 figures, not emulated)")
'
