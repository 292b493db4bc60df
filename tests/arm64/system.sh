#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# arm64 full-system test: qemu-system-aarch64 (-M virt,virtualization=on -cpu max) boots Debian's
# arm64 kernel at EL2 with an initramfs made here (busybox-static:arm64 + the cross-built funk),
# so KVM works inside; there hello and echo run under funk-monitor on both backends, faults (page
# 0, W^X) and a bad hypercall pointer are reported, and funkd deploys echo under each backend and
# answers a request.
# Usage: system.sh ARM64_PREFIX PLAIN_ELF SVC_ELF (the installed cross build: bin/, unikernels/,
# lib/; a plain Solo5 hvt guest, tests/arm64/plain_aarch64.c; a raw-syscall guest, svc_aarch64.c). The kernel and busybox
# .debs are fetched with apt-get download and cached in $FUNK_ARM64_CACHE (.cache/arm64).
# Skips (77) only when QEMU is missing or cannot start; everything else is a pass or a failure.
set -uo pipefail
PREFIX=$(cd "${1:?usage: system.sh ARM64_PREFIX}" && pwd)
PLAIN=${2:?usage: system.sh ARM64_PREFIX PLAIN_ELF SVC_ELF}
SVC=${3:?usage: system.sh ARM64_PREFIX PLAIN_ELF SVC_ELF}
ROOT=${FUNK_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
ARM64_WHO=arm64-system
. "$(dirname "$0")/emulate-lib.sh"
arm64_need_qemu
uks="hello echo test_zeropage test_wx test_badptr test_time test_ssp test_loop test_fpu test_globals"
for f in bin/funk-monitor bin/funkd $(for u in $uks; do echo unikernels/$u.elf; done); do
  [ -e "$PREFIX/$f" ] || fail "$PREFIX/$f missing: run make cross-arm64 first"
done

# ---- The initramfs: busybox, funk, the unikernels, the shared libraries funkd needs -----------
arm64_fetch
work=$(mktemp -d /tmp/funk-arm64-system.XXXXXX) || fail "mktemp"
trap 'rm -rf "$work"' EXIT
rd=$work/root
arm64_root "$rd"
cp "$PREFIX/bin/funk-monitor" "$PREFIX/bin/funkd" "$rd/bin/"
for u in $uks; do cp "$PREFIX/unikernels/$u.elf" "$rd/uk/"; done
cp "$PLAIN" "$rd/uk/plain.elf" && cp "$SVC" "$rd/uk/svc.elf" || fail "cannot copy $PLAIN, $SVC"
arm64_libs "$rd" "$rd/bin/funkd"
cat >"$rd/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin LD_LIBRARY_PATH=/lib/aarch64-linux-gnu
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
ip link set lo up
say() { echo "ARM64: $*"; }
run() { # run NAME COMMAND...: one line with its exit status and its output (stdout+stderr)
  n=$1; shift; out=$("$@" 2>&1); rc=$?; say "$n rc=$rc [$(echo "$out" | tr '\n' ' ' | sed 's/ *$//')]"
}
[ -c /dev/kvm ] && say "kvm yes" || say "kvm no"
for iso in kvm process; do
  run hello-$iso funk-monitor --isolation=$iso /uk/hello.elf
  out=$(echo -n "ping-$iso" | funk-monitor --isolation=$iso --fn-input=- /uk/echo.elf 2>/dev/null)
  say "echo-$iso rc=$? [$out]"
  run zeropage-$iso funk-monitor --isolation=$iso /uk/test_zeropage.elf read
  run wx-$iso funk-monitor --isolation=$iso /uk/test_wx.elf
  run badptr-$iso funk-monitor --isolation=$iso /uk/test_badptr.elf range
  run time-$iso funk-monitor --isolation=$iso /uk/test_time.elf
  run ssp-$iso funk-monitor --isolation=$iso /uk/test_ssp.elf
  run loop-$iso funk-monitor --isolation=$iso --timeout=1 /uk/test_loop.elf
  run fpu-$iso funk-monitor --isolation=$iso /uk/test_fpu.elf
  run svc-$iso funk-monitor --isolation=$iso /uk/svc.elf
  run globals-$iso funk-monitor --isolation=$iso --env="GREETING=hi there" /uk/test_globals.elf one '"two words"'
done
run auto funk-monitor --verbose /uk/hello.elf
run plain-kvm funk-monitor --isolation=kvm /uk/plain.elf hello solo5
run plain-text-kvm funk-monitor --isolation=kvm /uk/plain.elf text
funkd --listen 127.0.0.1:8080 --state-dir /tmp/funk >/tmp/funkd.log 2>&1 &
up=no
for i in $(seq 1 120); do
  wget -q -O /dev/null http://127.0.0.1:8080/healthz 2>/dev/null && { up=yes; break; }
  sleep 1
done
say "funkd up=$up"
for iso in kvm process; do
  wget -q -O /dev/null --post-data="{\"service\":\"echo-$iso\",\"image\":\"/uk/echo.elf\",\"labels\":{\"com.funk.isolation\":\"$iso\"}}" \
    http://127.0.0.1:8080/system/functions 2>/tmp/deploy.err; say "deploy-$iso rc=$?"
  out=$(wget -q -O - --post-data="hello from funkd $iso" http://127.0.0.1:8080/function/echo-$iso 2>&1)
  say "funkd-$iso rc=$? [$out]"
  wget -q -O /dev/null --post-data="{\"service\":\"snap-$iso\",\"image\":\"/uk/echo.elf\",\"labels\":{\"com.funk.isolation\":\"$iso\",\"com.funk.mode\":\"snapshot\"}}" \
    http://127.0.0.1:8080/system/functions 2>/tmp/deploy.err; say "deploy-snap-$iso rc=$?"
  for k in 1 2; do
    out=$(wget -q -O - --post-data="restored $k $iso" http://127.0.0.1:8080/function/snap-$iso 2>&1)
    say "snap-$k-$iso rc=$? [$out]"
  done
done
say "funkd log: $(tail -c 600 /tmp/funkd.log | tr '\n' '|')"
say "done"
poweroff -f
INIT
chmod +x "$rd/init"

# ---- Boot ------------------------------------------------------------------------------------
log=$work/console.log
start=$(date +%s)
arm64_boot "$rd" "$log"
rc=$?
secs=$(( $(date +%s) - start ))
grep -a 'ARM64:' "$log" | sed 's/^/  /'
if ! grep -aq 'ARM64: kvm' "$log"; then
  tail -20 "$log" >&2
  if [ $rc -ne 124 ] && ! grep -aqi 'linux version\|booting linux' "$log"; then
    skip "qemu-system-aarch64 could not start (rc $rc, console above)"
  fi
  fail "the emulated system did not reach /init in ${secs}s (rc $rc)"
fi
[ $rc -eq 124 ] && fail "the emulated system ran past ${BOOT_LIMIT}s"
echo "arm64-system: emulated system ran ${secs}s"

bad=0
want() { # want PATTERN WHAT
  if grep -aqE "$1" "$log"; then echo "ok   $2"; else echo "FAIL $2 (no line matching: $1)"; bad=1; fi
}
want 'ARM64: kvm yes' "KVM available inside the emulated EL2"
for iso in kvm process; do
  want "ARM64: hello-$iso rc=0 \[.*Hello from a funk unikernel!" "hello under $iso"
  want "ARM64: echo-$iso rc=0 \[ping-$iso\]" "echo under $iso answers its request"
  want "ARM64: zeropage-$iso rc=70 \[.*page fault at 0x0" "a read of page 0 is a reported fault under $iso"
  want "ARM64: wx-$iso rc=70 \[.*page fault.*write" "a write to the guest's own text faults (W^X) under $iso"
  want "ARM64: badptr-$iso rc=74 \[.*outside guest memory" "a hypercall pointer outside guest memory is refused under $iso"
  want "ARM64: time-$iso rc=0 \[.*time: OK" "the guest clock (CNTVCT under KVM, WALLTIME in a process) under $iso"
  want "ARM64: ssp-$iso rc=255 \[.*stack smashing detected" "the stack canary catches an overflow under $iso"
  want "ARM64: loop-$iso rc=75 \[.*timed out" "a spinning guest is stopped by --timeout under $iso"
  want "ARM64: fpu-$iso rc=0 \[.*fpu: OK" "floating-point arithmetic (FP/SIMD enabled) under $iso"
  want "ARM64: globals-$iso rc=0 \[.*globals: OK argc=3 \[one\] \[two words\] GREETING=hi there" \
    "constructors, globals, argv and the environment under $iso"
  want "ARM64: funkd-$iso rc=0 \[hello from funkd $iso\]" "funkd deploys echo under $iso and it answers"
  want "ARM64: snap-2-$iso rc=0 \[restored 2 $iso\]" \
    "funkd's snapshot mode under $iso: two instances restored from one snapshot answer"
done
want "ARM64: svc-process rc=78 \[.*sandbox: guest made a forbidden system call 56" \
  "a raw openat (svc) from a process-backend guest is killed by the aarch64 seccomp filter"
want "ARM64: svc-kvm rc=70 \[.*guest fault: svc" "svc under KVM is a reported guest exception"
want "ARM64: auto rc=0 \[.*isolation: kvm \(auto: hardware virtualization and /dev/kvm work\).*Hello from" \
  "--isolation=auto picks KVM on aarch64"
want "ARM64: plain-kvm rc=7 \[plain solo5 aarch64: cmdline 'hello solo5'" \
  "a plain Solo5 guest's MMIO hypercalls (PUTS, HALT with its status) under kvm"
want "ARM64: plain-text-kvm rc=1 \[.*host/guest translation fault" \
  "a plain Solo5 guest writing its text is a host/guest translation fault (exit 1, as solo5-hvt)"
want 'ARM64: done' "the init script ran to its end"
exit $bad
