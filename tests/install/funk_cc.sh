#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An out-of-tree function built with an installed funk-cc: in a temp folder (outside the source
# tree), wordcount.c compiles and links with PREFIX/bin/funk-cc, in one step and as -c + link,
# and answers under PREFIX/bin/funk-monitor (--fn-input); errno_check.c compiles with funk-cc and
# the host cc alike (the guest errno.h has the POSIX codes with Linux's values); portable.c (the
# libc parts portable C expects: inttypes.h, time.h, strtok_r) runs; --accel links;
# funk-cc's own queries and a bad option. Used by the meson suite (the test tree's prefix) and by
# tests/install/check-install.sh (the installed release tree).
# Usage: funk_cc.sh PREFIX
set -uo pipefail
P=${1:?usage: funk_cc.sh PREFIX}
SRC=$(cd "$(dirname "$0")/outside" && pwd)
FCC=$P/bin/funk-cc
MON=$P/bin/funk-monitor
fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
for b in "$FCC" "$MON"; do
  [ -x "$b" ] || { echo "FAIL: $b is not installed (meson install / make build-test first)"; exit 1; }
done
T=$(mktemp -d /tmp/funk-cc-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
cp "$SRC/wordcount.c" "$SRC/errno_check.c" "$SRC/portable.c" "$T/"
cd "$T" || exit 1
# env -i: nothing from the caller's environment (PKG_CONFIG_PATH, CFLAGS) helps funk-cc
E=(env -i PATH=/usr/bin:/bin HOME="$T" ASAN_OPTIONS="$ASAN_OPTIONS")

# the guest runs under KVM when there is a usable /dev/kvm, else on the process backend
iso=()
[ -r /dev/kvm ] && [ -w /dev/kvm ] || iso=(--isolation=process)

if "${E[@]}" "$FCC" -O2 -Wall -Wextra -Werror -o wc.elf wordcount.c 2>err.txt; then
  ok "funk-cc -o wc.elf wordcount.c (outside the tree)"
else
  bad "funk-cc -o wc.elf wordcount.c: $(head -c 600 err.txt)"
fi
printf 'one two  three\nfour\n' >in.txt
out=$("${E[@]}" "$MON" "${iso[@]}" --fn-input=in.txt wc.elf 2>&1)
rc=$?
[ $rc -eq 0 ] && [ "$out" = "words=4" ] && ok "wc.elf answers under the installed funk-monitor ${iso[*]}: $out" ||
  bad "wc.elf under $MON ${iso[*]}: rc=$rc '$out'"
: >empty.txt
out=$("${E[@]}" "$MON" "${iso[@]}" --fn-input=empty.txt --fn-output=http wc.elf 2>&1)
grep -q "^HTTP/1.1 400" <<<"$out" && grep -q "empty body (errno 74)" <<<"$out" &&
  ok "an empty body: 400 naming EBADMSG (74)" || bad "empty body: '$out'"

# separate compile and link, and the accel library
if "${E[@]}" "$FCC" -c -O2 wordcount.c -o wc.o 2>err.txt && "${E[@]}" "$FCC" -o wc2.elf wc.o 2>>err.txt &&
   [ "$("${E[@]}" "$MON" "${iso[@]}" --fn-input=in.txt wc2.elf 2>&1)" = "words=4" ]; then
  ok "funk-cc -c, then funk-cc -o (link only)"
else
  bad "funk-cc -c + link: $(head -c 600 err.txt)"
fi
"${E[@]}" "$FCC" --accel -o wc3.elf wc.o 2>err.txt && ok "funk-cc --accel links libfunk-guest-accel" ||
  bad "funk-cc --accel: $(head -c 600 err.txt)"

# the guest errno.h: every POSIX code, with the host's (Linux's) value
"${E[@]}" "$FCC" -c -Wall -Werror errno_check.c -o errno_guest.o 2>err.txt &&
  ok "errno_check.c compiles against the guest errno.h" || bad "guest errno.h: $(head -c 600 err.txt)"
cc -c -Wall -Werror errno_check.c -o errno_host.o 2>err.txt &&
  ok "errno_check.c compiles against the host errno.h (the values are Linux's)" ||
  bad "host errno.h: $(head -c 600 err.txt)"

# portable C: inttypes.h, sys/types.h, time.h, strtok_r, strerror of a POSIX code
want='tokens=3
u64=18446744073709551615 x64=ffffffffffffffff ssize=-5 imax=42
clocks=ok after2020=yes
EBADMSG=74 bad message'
if "${E[@]}" "$FCC" -O2 -Wall -Wextra -Werror -o portable.elf portable.c 2>err.txt; then
  out=$("${E[@]}" "$MON" "${iso[@]}" portable.elf 2>&1)
  rc=$?
  [ $rc -eq 0 ] && [ "$out" = "$want" ] && ok "portable.c (inttypes, time, strtok_r, strerror) runs as expected" ||
    bad "portable.elf: rc=$rc '$out'"
else
  bad "portable.c does not build with funk-cc: $(head -c 600 err.txt)"
fi

# a prefix with a blank in its path (a copy of this one): funk-cc finds it and quotes its paths
B="$T/my sdk"
mkdir -p "$B/bin" "$B/lib" "$B/include" "$B/share/funk"
cp "$FCC" "$B/bin/" && cp "$P"/lib/libfunk-guest*.a "$B/lib/" && cp -r "$P/include/funk" "$P/include/funk-guest" "$B/include/" &&
  cp "$P/share/funk/guest.ld" "$B/share/funk/"
if "${E[@]}" "$B/bin/funk-cc" -o "wc blank.elf" wordcount.c 2>err.txt &&
   [ "$("${E[@]}" "$MON" "${iso[@]}" --fn-input=in.txt "wc blank.elf" 2>&1)" = "words=4" ]; then
  ok "funk-cc from a prefix with a blank in its path"
else
  bad "funk-cc in '$B': $(head -c 600 err.txt)"
fi

# queries and errors
fp=$("${E[@]}" "$FCC" --prefix)
[ "$fp" = "$(cd "$P" && pwd -P)" ] && ok "funk-cc --prefix: $fp" || bad "funk-cc --prefix: '$fp', not $P"
grep -q -- "-I$fp/include/funk-guest" <<<"$("${E[@]}" "$FCC" --cflags)" && ok "funk-cc --cflags names the guest libc" ||
  bad "funk-cc --cflags: $("${E[@]}" "$FCC" --cflags)"
grep -q -- "-Wl,-T,$fp/share/funk/guest.ld" <<<"$("${E[@]}" "$FCC" --libs)" && ok "funk-cc --libs names the installed guest.ld" ||
  bad "funk-cc --libs: $("${E[@]}" "$FCC" --libs)"
"${E[@]}" "$FCC" --bogus x.c >/dev/null 2>err.txt
rc=$?
[ $rc -eq 64 ] && grep -q -- "--bogus" err.txt && ok "an unknown option: exit 64, named" || bad "--bogus: rc=$rc $(cat err.txt)"
"${E[@]}" "$FCC" >/dev/null 2>err.txt
rc=$?
[ $rc -eq 64 ] && ok "no input: exit 64" || bad "no input: rc=$rc"
printf 'int main(void) { return undeclared; }\n' >broken.c
"${E[@]}" "$FCC" -o broken.elf broken.c >/dev/null 2>&1 && bad "a compile error is not an error" ||
  ok "a compile error fails funk-cc"

exit $((fails > 0))
