#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Linux guests (funk-monitor --linux, process backend): unmodified busybox-static applets and
# musl-built programs give byte-identical output and exit status to their native runs; hostile
# raw system calls fail and reach nothing on the host. Usage: linux.sh FUNK-MONITOR
set -u
MON=${1:?usage: linux.sh FUNK-MONITOR}
BB=/bin/busybox
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$BB" ] || ! file -L "$BB" 2>/dev/null | grep -q 'statically linked'; then
    echo "SKIP: $BB (Debian busybox-static) missing: the Linux personality tests are NOT RUN" >&2
    exit 77
fi
if ! command -v musl-gcc >/dev/null 2>&1; then
    echo "SKIP: musl-gcc (Debian musl-tools) missing: the Linux personality tests are NOT RUN" >&2
    exit 77
fi
T=$(mktemp -d /tmp/funk-linux-test.XXXXXX)
SACRIFICE=
cleanup() {
    [ -n "$SACRIFICE" ] && kill "$SACRIFICE" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

seq 1 3000 | sed 's/$/ lorem ipsum Dolor/' > "$T/in"
printf '3.5\n-1\n2.25\n10\n1e3\n0.125\n' > "$T/nums"

# run NAME INPUT CMD...: the guest and the native program, stdout and exit status compared.
run() {
    name=$1 input=$2
    shift 2
    timeout 60 "$MON" --isolation=process --linux --env=FUNK_TEST=yes "$@" < "$input" \
        > "$T/g.out" 2> "$T/g.err"
    grc=$?
    FUNK_TEST=yes timeout 60 "$@" < "$input" > "$T/n.out" 2> "$T/n.err"
    nrc=$?
    if ! cmp -s "$T/g.out" "$T/n.out"; then
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
# The operator's legacy path (guest forked from the monitor, FUNK_PROCESS_LAUNCHER=off): the
# image is copied there, not moved.
FUNK_PROCESS_LAUNCHER=off run "legacy fork: sha256sum" "$T/in" "$BB" sha256sum

# A musl-gcc -static C program: floats, strtod, qsort, malloc, clock, getrandom, TLS, exit 3.
if musl-gcc -static -O2 -o "$T/prog" "$HERE/linux/prog.c" 2> "$T/cc.err"; then
    run "musl prog" "$T/nums" "$T/prog" arg1
    grep -q '^clock ok random ok tls 42 argc 2 argv1 arg1 env yes$' "$T/g.out" ||
        fail "musl prog: unexpected output: $(cat "$T/g.out")"
    [ "$grc" = 3 ] || fail "musl prog: status $grc, not 3"
    grep -q 'prog: done' "$T/g.err" || fail "musl prog: stderr did not reach the log"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# The same program with glibc: static (ET_EXEC) and static-pie (ET_DYN, placed at 0x400000).
for kind in -static "-static-pie -fPIE"; do
    # shellcheck disable=SC2086
    if gcc $kind -O2 -o "$T/gprog" "$HERE/linux/prog.c" 2> "$T/cc.err"; then
        run "glibc $kind prog" "$T/nums" "$T/gprog" arg1
        [ "$grc" = 3 ] || fail "glibc $kind prog: status $grc, not 3"
    else
        fail "gcc $kind failed (libc6-dev): $(cat "$T/cc.err")"
    fi
done

# Hostile guest: every raw call (64-bit and int $0x80) fails, nothing is created, the target process lives, the log
# names the refused calls, and the monitor itself ends normally.
sleep 300 &
SACRIFICE=$!
if musl-gcc -static -O2 -o "$T/escape" "$HERE/linux/escape.c" 2> "$T/cc.err"; then
    timeout 60 "$MON" --isolation=process --linux "$T/escape" "$T/victim" "$SACRIFICE" \
        < /dev/null > "$T/e.out" 2> "$T/e.err"
    erc=$?
    [ "$erc" = 0 ] || fail "escape guest: monitor exit $erc: $(cat "$T/e.err")"
    [ "$(grep -c ' refused$' "$T/e.out")" = 12 ] ||
        fail "escape guest: not every attempt was refused: $(cat "$T/e.out")"
    grep ALLOWED "$T/e.out" && fail "escape guest: a call was allowed"
    [ -e "$T/victim" ] && fail "escape guest created a host file"
    [ -e /tmp/funk-linux-escaped ] && fail "escape guest ran a host command"
    kill -0 "$SACRIFICE" 2>/dev/null || fail "escape guest killed a host process"
    for c in 'socket' 'execve' 'ptrace' 'kill' 'fork' 'mprotect' 'mmap' 'openat'; do
        grep -q "system call [0-9]* ($c) refused" "$T/e.err" || fail "the log does not name $c"
    done
    echo "ok: escape attempts refused ($(grep -c refused "$T/e.err") log lines)"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# A bundle directory: its files read-only as the guest's "/", nothing outside it reachable (not
# through "..", not through a symbolic link planted in it), nothing written.
B="$T/bundle"
mkdir -p "$B/sub/deeper"
echo "hello bundle" > "$B/a.txt"
seq 1 5000 > "$B/sub/nums"
echo deep > "$B/sub/deeper/d"
ln -s /etc/passwd "$B/link"
ln -s / "$B/root"
guest() { timeout 60 "$MON" --isolation=process --linux --bundle="$B" "$BB" "$@" < /dev/null 2> "$T/b.err"; }
[ "$(guest cat /a.txt)" = "hello bundle" ] || fail "bundle: cat /a.txt: $(cat "$T/b.err")"
[ "$(guest md5sum sub/nums | cut -d' ' -f1)" = "$(md5sum < "$B/sub/nums" | cut -d' ' -f1)" ] ||
    fail "bundle: md5sum of a file differs"
[ "$(guest wc -l /sub/deeper/../nums)" = "5000 /sub/deeper/../nums" ] || fail "bundle: wc -l with .."
[ "$(guest find / | sort | tr '\n' ' ')" = "/ /a.txt /sub /sub/deeper /sub/deeper/d /sub/nums " ] ||
    fail "bundle: find / lists $(guest find / | tr '\n' ' ')"
for p in /../../etc/passwd /link /root/etc/passwd /etc/passwd; do
    out=$(guest cat "$p")
    rc=$?
    [ "$rc" = 1 ] && [ -z "$out" ] || fail "bundle: cat $p: status $rc, output '$out'"
done
guest touch /new
[ $? = 1 ] && [ ! -e "$B/new" ] || fail "bundle: a file was created"
grep -q 'Read-only file system' "$T/b.err" || fail "bundle: touch did not see EROFS: $(cat "$T/b.err")"
echo "ok: bundle files"

# Every system call number with random and crafted arguments (misaligned, read-only, unmapped,
# kernel and non-canonical pointers, huge sizes): the personality answers each one; a monitor
# fault would end the run with exit 70 or 78 and its reason.
if musl-gcc -static -O2 -o "$T/fuzz" "$HERE/linux/fuzz.c" 2> "$T/cc.err"; then
    for seed in 1 2 3 4 5 6; do
        out=$(timeout 60 "$MON" --isolation=process --linux "$T/fuzz" "$seed" < /dev/null 2> "$T/f.err")
        rc=$?
        [ "$rc" = 0 ] && echo "$out" | grep -q '^survived' ||
            fail "syscall fuzz seed $seed: exit $rc: $(grep -v refused "$T/f.err" | tail -3)"
    done
    echo "ok: syscall fuzz (6 seeds)"
else
    fail "musl-gcc failed: $(cat "$T/cc.err")"
fi

# Sleeping works (a ppoll of the monitor) and --timeout still ends a guest that sleeps on.
start=$(date +%s%N)
"$MON" --isolation=process --linux "$BB" sleep 0.2 < /dev/null > /dev/null 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" = 0 ] && [ "$ms" -ge 190 ] || fail "sleep 0.2: exit $rc after $ms ms"
"$MON" --isolation=process --linux --timeout=1 "$BB" sleep 100 < /dev/null > /dev/null 2>&1
rc=$?
[ "$rc" = 75 ] || fail "sleep 100 with --timeout=1: exit $rc, not 75"

# Refusals at load and on the command line.
gcc -O2 -o "$T/dyn" "$HERE/linux/prog.c" 2>/dev/null
"$MON" --isolation=process --linux "$T/dyn" < /dev/null > /dev/null 2> "$T/d.err"
rc=$?
[ "$rc" = 65 ] && grep -q 'dynamically linked' "$T/d.err" ||
    fail "a dynamic binary: exit $rc, $(cat "$T/d.err")"

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "all Linux personality checks passed"
