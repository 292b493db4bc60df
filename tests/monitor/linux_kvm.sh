#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Linux guests under KVM (funk-monitor --linux --isolation=kvm): the program runs in ring 3 and
# every system call is one exit served by the same personality as the process backend. Output
# and exit status byte-identical to native runs; every way into ring 0 or around the page map
# (int $0x80, sysenter, the handler page, GDT, port I/O, privileged instructions, W^X, pages
# after munmap/mprotect) ends the guest with a fault; raw calls that are not served fail; a
# syscall fuzzer does not hurt the monitor. Usage: linux_kvm.sh FUNK-MONITOR
set -u
MON=${1:?usage: linux_kvm.sh FUNK-MONITOR}
BB=/bin/busybox
HERE=$(cd "$(dirname "$0")" && pwd)
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "SKIP: /dev/kvm is not usable here: the Linux personality's KVM tests are NOT RUN" >&2
    exit 77
fi
if [ ! -x "$BB" ] || ! file -L "$BB" 2>/dev/null | grep -q 'statically linked'; then
    echo "SKIP: $BB (Debian busybox-static) missing: the Linux KVM personality tests are NOT RUN" >&2
    exit 77
fi
if ! command -v musl-gcc >/dev/null 2>&1; then
    echo "SKIP: musl-gcc (Debian musl-tools) missing: the Linux KVM personality tests are NOT RUN" >&2
    exit 77
fi
T=$(mktemp -d /tmp/funk-linux-kvm-test.XXXXXX)
SACRIFICE=
cleanup() {
    [ -n "$SACRIFICE" ] && kill "$SACRIFICE" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
KVM="$MON --isolation=kvm --linux"

# One guest first: a /dev/kvm that cannot create VMs at all is a skip with its reason, not a
# row of failures; anything else that stops this guest (a refusal of --isolation=kvm --linux:
# exit 64, a load or run failure) is a failure.
printf 'x\n' | $KVM "$BB" true > /dev/null 2> "$T/first.err"
rc=$?
if [ "$rc" = 66 ] && grep -q "cannot create a KVM VM" "$T/first.err"; then
    echo "SKIP: KVM VMs cannot be created here ($(cat "$T/first.err")): NOT RUN" >&2
    exit 77
fi
[ "$rc" = 0 ] || fail "busybox true under KVM: exit $rc: $(cat "$T/first.err")"

seq 1 3000 | sed 's/$/ lorem ipsum Dolor/' > "$T/in"
printf '3.5\n-1\n2.25\n10\n1e3\n0.125\n' > "$T/nums"

# run NAME INPUT CMD...: the KVM guest and the native program, stdout and exit status compared.
# A guest that needs SSE arithmetic may fail on a KVM that emulates ring-3 code and cannot
# emulate SSE (software virtualization): then, and only for that reason, it is an expected
# failure of this host (XFAIL), never a pass.
run() {
    name=$1 input=$2
    shift 2
    timeout 120 $KVM --env=FUNK_TEST=yes "$@" < "$input" > "$T/g.out" 2> "$T/g.err"
    grc=$?
    FUNK_TEST=yes timeout 60 "$@" < "$input" > "$T/n.out" 2> "$T/n.err"
    nrc=$?
    if [ "${SSE:-}" = 1 ] && [ "$grc" != "$nrc" ] && grep -q 'KVM emulation failure' "$T/g.err"; then
        echo "XFAIL (this host's KVM cannot emulate SSE arithmetic): $name"
        grc=$nrc
        cp "$T/n.out" "$T/g.out"
    elif ! cmp -s "$T/g.out" "$T/n.out"; then
        fail "$name: output differs from the native run"
        head -c 400 "$T/g.err" >&2
    elif [ "$grc" != "$nrc" ]; then
        fail "$name: exit status $grc, native $nrc"
        head -c 400 "$T/g.err" >&2
    else
        echo "ok: $name ($(wc -c < "$T/g.out") bytes, status $grc)"
    fi
}

run "wc -w" "$T/in" "$BB" wc -w
run sha256sum "$T/in" "$BB" sha256sum
run base64 "$T/in" "$BB" base64
run sort "$T/in" "$BB" sort
run "sort -rn" "$T/in" "$BB" sort -r -n
run md5sum "$T/in" "$BB" md5sum
run "tr a-z A-Z" "$T/in" "$BB" tr a-z A-Z
run "expr 6 * 7" /dev/null "$BB" expr 6 '*' 7
run "expr 0 (status 1)" /dev/null "$BB" expr 0 + 0
run echo /dev/null "$BB" echo hello funk
[ -s "$T/g.out" ] || fail "guests wrote nothing"

# Integer-only musl program (never needs SSE): argv, envp, stdin, exit status.
cat > "$T/int.c" << 'EOF'
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    char buf[4096];
    long n, total = 0;
    while ((n = read(0, buf, sizeof buf)) > 0)
        total += n;
    for (int i = 0; i < argc; i++) {
        write(1, argv[i], strlen(argv[i]));
        write(1, "\n", 1);
    }
    const char *e = getenv("FUNK_TEST");
    write(1, e ? e : "-", e ? strlen(e) : 1);
    return (int)(total % 200);
}
EOF
if musl-gcc -static -O2 -mgeneral-regs-only -o "$T/int" "$T/int.c" 2> "$T/cc.err"; then
    run "musl integer-only" "$T/in" "$T/int" one two
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# musl and glibc (static, static-pie) with floats, strtod, qsort, malloc, clock, getrandom, TLS.
if musl-gcc -static -O2 -o "$T/prog" "$HERE/linux/prog.c" 2> "$T/cc.err"; then
    SSE=1 run "musl prog (floats)" "$T/nums" "$T/prog" arg1
    [ "$grc" = 3 ] || fail "musl prog: status $grc, not 3"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi
for kind in -static "-static-pie -fPIE"; do
    # shellcheck disable=SC2086
    if gcc $kind -O2 -o "$T/gprog" "$HERE/linux/prog.c" 2> "$T/cc.err"; then
        SSE=1 run "glibc $kind prog (floats)" "$T/nums" "$T/gprog" arg1
    else
        fail "gcc $kind failed (libc6-dev): $(cat "$T/cc.err")"
    fi
done

# Raw calls that are not served fail and reach nothing; its int $0x80 at the end ends the
# guest under KVM (a fault into the ring-0 side, named as such), after 11 refusals.
sleep 300 &
SACRIFICE=$!
if musl-gcc -static -O2 -o "$T/escape" "$HERE/linux/escape.c" 2> "$T/cc.err"; then
    timeout 60 $KVM "$T/escape" "$T/victim" "$SACRIFICE" < /dev/null > "$T/e.out" 2> "$T/e.err"
    erc=$?
    [ "$erc" = 70 ] && grep -q 'guest fault: int \$0x80' "$T/e.err" ||
        fail "escape guest: exit $erc, not 70 with int \$0x80 named: $(tail -3 "$T/e.err")"
    [ "$(grep -c ' refused$' "$T/e.err")" = 11 ] ||
        fail "escape guest: not every attempt was refused: $(cat "$T/e.err")"
    grep ALLOWED "$T/e.err" && fail "escape guest: a call was allowed"
    [ -s "$T/e.out" ] && fail "escape guest: a faulting guest's stdout was sent as a response"
    [ -e "$T/victim" ] && fail "escape guest created a host file"
    kill -0 "$SACRIFICE" 2>/dev/null || fail "escape guest killed a host process"
    for c in 'socket' 'execve' 'ptrace' 'kill' 'fork' 'mprotect' 'mmap' 'openat'; do
        grep -q "system call [0-9]* ($c) refused" "$T/e.err" || fail "the log does not name $c"
    done
    echo "ok: escape attempts refused ($(grep -c refused "$T/e.err") log lines)"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# Ways into ring 0 or around the page map: each ends the guest with exit 70 and its reason.
if musl-gcc -static -O2 -o "$T/kesc" "$HERE/linux/kvm_escape.c" 2> "$T/cc.err"; then
    while read -r mode want; do
        timeout 60 $KVM "$T/kesc" "$mode" < /dev/null > "$T/k.out" 2> "$T/k.err"
        krc=$?
        if [ "$krc" != 70 ] || ! grep -q "funk-monitor: guest fault: $want" "$T/k.err" ||
            grep -q ESCAPED "$T/k.out"; then
            fail "kvm escape $mode: exit $krc, $(cat "$T/k.out") $(tail -1 "$T/k.err")"
        else
            echo "ok: $mode ends the guest ($(tail -1 "$T/k.err" | cut -c15-90))"
        fi
    done << 'EOF'
int80 int \$0x80
sysenter sysenter
handler-write page fault at 0x100000000 (rip=0x[0-9a-f]*, write, protection)
gdt-read page fault at 0x100002000 (rip=0x[0-9a-f]*, read, protection)
stub-jump page fault at 0x100001000 (rip=0x100001000, exec, protection)
entry-jump breakpoint (signal 5,
text-write page fault at 0x[0-9a-f]* (rip=0x[0-9a-f]*, write, protection)
stack-exec page fault at 0x[0-9a-f]* (rip=0x[0-9a-f]*, exec, protection)
heap-exec page fault at 0x[0-9a-f]* (rip=0x[0-9a-f]*, exec, protection)
after-munmap page fault at 0x[0-9a-f]* (rip=0x[0-9a-f]*, read)
after-mprotect page fault at 0x[0-9a-f]* (rip=0x[0-9a-f]*, write, protection)
out general protection fault (signal 11,
out-f0 general protection fault (signal 11, port I/O 0xf0 at rip=0x[0-9a-f]* outside
hlt general protection fault (signal 11,
cr3 general protection fault (signal 11,
wrmsr general protection fault (signal 11,
null page fault at 0x0 (rip=0x[0-9a-f]*, read)
EOF
    # The same faults end a process-backend guest with the same exit status.
    "$MON" --isolation=process --linux "$T/kesc" null < /dev/null > /dev/null 2>&1
    prc=$?
    [ "$prc" = 70 ] || fail "null pointer on the process backend: exit $prc, not 70 as under KVM"
    # An unknown system call: -ENOSYS each time, logged once.
    out=$(timeout 60 $KVM "$T/kesc" enosys < /dev/null 2> "$T/k.err")
    [ "$out" = "enosys -38 -38" ] || fail "unknown system call: '$out'"
    [ "$(grep -c 'system call 335 (?) refused: not served (ENOSYS)' "$T/k.err")" = 1 ] ||
        fail "unknown system call not logged exactly once: $(cat "$T/k.err")"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# A read-only bundle as "/", nothing outside it.
B="$T/bundle"
mkdir -p "$B/sub"
echo "hello bundle" > "$B/a.txt"
seq 1 5000 > "$B/sub/nums"
ln -s /etc/passwd "$B/link"
guest() { timeout 60 $KVM --bundle="$B" "$BB" "$@" < /dev/null 2> "$T/b.err"; }
[ "$(guest cat /a.txt)" = "hello bundle" ] || fail "bundle: cat /a.txt: $(cat "$T/b.err")"
[ "$(guest md5sum sub/nums | cut -d' ' -f1)" = "$(md5sum < "$B/sub/nums" | cut -d' ' -f1)" ] ||
    fail "bundle: md5sum of a file differs"
for p in /../../etc/passwd /link /etc/passwd; do
    out=$(guest cat "$p")
    rc=$?
    [ "$rc" = 1 ] && [ -z "$out" ] || fail "bundle: cat $p: status $rc, output '$out'"
done
echo "ok: bundle files"

# Every system call number with random and crafted arguments: the monitor answers each one.
if musl-gcc -static -O2 -o "$T/fuzz" "$HERE/linux/fuzz.c" 2> "$T/cc.err"; then
    for seed in 1 2 3 4 5 6; do
        out=$(timeout 120 $KVM "$T/fuzz" "$seed" < /dev/null 2> "$T/f.err")
        rc=$?
        [ "$rc" = 0 ] && echo "$out" | grep -q '^survived' ||
            fail "syscall fuzz seed $seed under KVM: exit $rc: $(grep -av refused "$T/f.err" | tail -3)"
    done
    echo "ok: syscall fuzz under KVM (6 seeds)"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# Sleeping, and --timeout ending a guest that sleeps on.
start=$(date +%s%N)
$KVM "$BB" sleep 0.2 < /dev/null > /dev/null 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 0 ] && [ "$ms" -ge 190 ] || fail "sleep 0.2: exit $rc after $ms ms"
$KVM --timeout=1 "$BB" sleep 100 < /dev/null > /dev/null 2>&1
rc=$?
[ "$rc" = 75 ] || fail "sleep 100 with --timeout=1: exit $rc, not 75"
# ... and one that spins in ring 3 without a system call.
printf 'int main(void) { for (;;) __asm__ volatile(""); }\n' > "$T/spin.c"
if musl-gcc -static -O2 -o "$T/spin" "$T/spin.c" 2> "$T/cc.err"; then
    timeout 30 $KVM --timeout=1 "$T/spin" < /dev/null > /dev/null 2> "$T/s.err"
    rc=$?
    [ "$rc" = 75 ] && grep -q 'timed out' "$T/s.err" ||
        fail "a spinning guest with --timeout=1: exit $rc, $(cat "$T/s.err")"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# Refusals at load.
gcc -O2 -o "$T/dyn" "$HERE/linux/prog.c" 2>/dev/null
$KVM "$T/dyn" < /dev/null > /dev/null 2> "$T/d.err"
rc=$?
[ "$rc" = 65 ] && grep -q 'dynamically linked' "$T/d.err" ||
    fail "a dynamic binary: exit $rc, $(cat "$T/d.err")"

# A program with the funk note (what funk-cc --linux builds) makes funk hypercalls under KVM
# too: this one (note only, no SDK) exits 0 without making any, like any program. The SDK's
# functions are checked in gateway-fnlinux on both backends.
cat > "$T/note.c" << 'EOF'
__asm__(".pushsection .note.funk, \"a\", @note\n"
        ".balign 4\n .long 5\n .long 8\n .long 0x314b4e46\n .asciz \"funk\"\n .balign 4\n"
        ".long 1\n .long 0\n .popsection");
int main(void) { return 0; }
EOF
if musl-gcc -static -O2 -o "$T/note" "$T/note.c" 2> "$T/cc.err"; then
    $KVM "$T/note" < /dev/null > /dev/null 2> "$T/n.err"
    rc=$?
    [ "$rc" = 0 ] || fail "a program with the funk note under KVM: exit $rc, $(cat "$T/n.err")"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "all Linux personality checks under KVM passed"
