#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make check-install: what a user gets from `make install PREFIX=...` (the optimized product,
# built for that prefix), checked from outside the tree:
#   1. install into a fresh temporary PREFIX (a file of someone else's already lives there);
#   2. a C program in a temp folder builds with `pkg-config --cflags --libs funk-accel`, runs a
#      noop and classifies dog.jpg through the installed cpu plugin and installed models, and
#      every libfunk file mapped into it comes from PREFIX (LD_DEBUG=libs agrees);
#   3. hello.c builds as a unikernel with `pkg-config funk-guest` and runs under the installed
#      funk-monitor; a program links the static libfunk-vm with `pkg-config funk-vm`; a function
#      built in a temp folder with the installed funk-cc answers under the installed funk-monitor
#      (tests/install/funk_cc.sh, which the meson suite runs on the test tree too);
#   3b. Debian's python3 imports the installed funk_accel (from <prefix>/lib/python3.X/dist-packages)
#      and the installed example classifies dog.jpg, every libfunk file from PREFIX;
#   4. the installed funk-accel/funkd answer from PREFIX with a clean environment, and the
#      installed systemd units pass `systemd-analyze verify`;
#   5. make uninstall leaves exactly the other file; DESTDIR installs land under DESTDIR only.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
IMG=/usr/share/darknet/data/dog.jpg
[ -r "$IMG" ] || { echo "SKIP: $IMG missing (apt-get install darknet)"; exit 77; }
command -v pkg-config >/dev/null || { echo "FAIL: pkg-config not installed"; exit 1; }
TMP=$(mktemp -d /tmp/funk-check-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
P=$TMP/prefix
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

mkdir -p "$P/lib" && echo mine >"$P/lib/other-package.txt"
make -s -C "$ROOT" install PREFIX="$P" >"$TMP/install.log" 2>&1 ||
  { cat "$TMP/install.log"; echo "FAIL: make install PREFIX=$P"; exit 1; }
tail -1 "$TMP/install.log"
for f in bin/funk bin/funkd bin/funk-monitor bin/funk-accel bin/funk-cc lib/libfunk-accel.so \
         lib/funk/libfunk-accel-cpu.so lib/libfunk-guest.a lib/libfunk-vm.a include/funk/accel.h \
         lib/pkgconfig/funk-accel.pc lib/pkgconfig/funk-guest.pc lib/pkgconfig/funk-vm.pc \
         unikernels/hello.elf share/funk/models/centernet.onnx share/man/man1/funkd.1 share/man/man1/funk-cc.1 \
         lib/systemd/system/funkd.service lib/systemd/system/funk-accel-agent.service \
         share/doc/funk/README.md share/doc/funk/examples/python/classify.py; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
# Nothing installed may point back into the build or source tree.
if grep -rlF "$ROOT" "$P" --exclude=install-manifest >"$TMP/refs" 2>/dev/null; then
  echo "note: files naming the source tree (fallback paths compiled in): $(tr '\n' ' ' <"$TMP/refs")"
fi

export PKG_CONFIG_PATH=$P/lib/pkgconfig
SRC=$TMP/src && mkdir -p "$SRC" && cp tests/install/outside/*.c functions/hello/hello.c "$SRC/"
cd "$SRC" || exit 1
libdir=$(pkg-config --variable=libdir funk-accel)
[ "$libdir" = "$P/lib" ] || fail "funk-accel libdir is '$libdir', expected $P/lib"
# shellcheck disable=SC2046
if cc -o classify classify.c $(pkg-config --cflags --libs funk-accel) -Wl,-rpath,"$libdir"; then
  ok "classify.c built with pkg-config funk-accel"
  env -i PATH=/usr/bin:/bin HOME="$TMP" ./classify "$IMG" >out.txt 2>err.txt ||
    { cat out.txt err.txt; fail "classify exited $?"; }
  awk '!seen[$0]++' out.txt
  grep -q '^noop: ok' out.txt || fail "no noop"
  grep -q '^label: dog ' out.txt && ok "dog among the labels" || fail "dog not among the labels"
  grep -q "^mapped: $P/lib/libfunk-accel.so" out.txt || fail "libfunk-accel not mapped from $P"
  grep -q "^mapped: $P/lib/funk/libfunk-accel-cpu.so" out.txt || fail "cpu plugin not mapped from $P"
  if grep '^mapped: ' out.txt | grep -v "^mapped: $P/"; then
    fail "libfunk files mapped from outside $P"
  else
    ok "every libfunk file mapped from $P"
  fi
  env -i PATH=/usr/bin:/bin HOME="$TMP" LD_DEBUG=libs ./classify "$IMG" >/dev/null 2>ld.txt
  if grep -F "$ROOT" ld.txt | grep -q .; then fail "LD_DEBUG shows the build tree: $(grep -F "$ROOT" ld.txt | head -3)"
  else ok "LD_DEBUG=libs names nothing under $ROOT"; fi
else
  fail "classify.c does not build with pkg-config funk-accel"
fi

# shellcheck disable=SC2046
if cc -c -o hello.o hello.c $(pkg-config --cflags funk-guest) &&
   cc -o hello.elf hello.o $(pkg-config --libs funk-guest); then
  out=$(env -i PATH=/usr/bin:/bin "$P/bin/funk-monitor" hello.elf 2>&1)
  rc=$?
  [ $rc -eq 0 ] && grep -q "Hello from a funk unikernel" <<<"$out" &&
    ok "hello.c built with pkg-config funk-guest runs under the installed funk-monitor" ||
    fail "outside hello.elf under $P/bin/funk-monitor: rc=$rc: $out"
else
  fail "hello.c does not build with pkg-config funk-guest"
fi
# Installed to a system prefix (/usr: the funk-dev package), pkg-config drops -I<prefix>/include:
# the guest flags must still find <funk/guest.h>.
# shellcheck disable=SC2046
PKG_CONFIG_SYSTEM_INCLUDE_PATH=$P/include cc -c -o hello2.o hello.c $(PKG_CONFIG_SYSTEM_INCLUDE_PATH=$P/include pkg-config --cflags funk-guest) &&
  cmp -s hello.o hello2.o && ok "funk-guest cflags work when pkg-config strips -I$P/include" ||
  fail "funk-guest cflags with -I$P/include stripped (as for /usr)"
# an out-of-tree function with the installed funk-cc, run by the installed funk-monitor
if "$ROOT/tests/install/funk_cc.sh" "$P" >"$TMP/funk_cc.log" 2>&1; then
  ok "a function built outside the tree with $P/bin/funk-cc answers ($(grep -c '^ok' "$TMP/funk_cc.log") checks)"
else
  cat "$TMP/funk_cc.log"
  fail "tests/install/funk_cc.sh $P"
fi
# shellcheck disable=SC2046
if cc -o vm_link vm_link.c $(pkg-config --cflags --libs funk-vm) && [ "$(./vm_link)" = "exit code 7" ]; then
  ok "vm_link.c links the static libfunk-vm with pkg-config funk-vm"
else
  fail "vm_link.c with pkg-config funk-vm"
fi

# The Python bindings, from outside the tree with a clean environment but for PYTHONPATH (a
# prefix other than /usr and /usr/local is not on python3's path).
if [ -x /usr/bin/python3 ]; then
  pyver=$(/usr/bin/python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
  site=$P/lib/$pyver/dist-packages
  pyex=$P/share/doc/funk/examples/python/classify.py
  out=$(env -i PATH=/usr/bin:/bin HOME="$TMP" PYTHONPATH="$site" LD_DEBUG=libs /usr/bin/python3 "$pyex" "$IMG" 2>"$TMP/pyld.txt")
  rc=$?
  [ $rc -eq 0 ] && grep -q '^dog ' <<<"$out" && ok "installed funk_accel example classifies dog.jpg: $(tr '\n' ' ' <<<"$out")" ||
    fail "python3 $pyex: rc=$rc: $out $(grep -v '^ *[0-9]*:' "$TMP/pyld.txt" | tail -3)"
  for so in "$site/funk_accel/_native" "$P/lib/libfunk-accel.so" "$P/lib/funk/libfunk-accel-cpu.so"; do
    grep -q "calling init: $so" "$TMP/pyld.txt" || fail "python3: $so not loaded"
  done
  if grep -F "$ROOT" "$TMP/pyld.txt" | grep -q .; then fail "python3 loaded from the build tree: $(grep -F "$ROOT" "$TMP/pyld.txt" | head -2)"
  else ok "python3 import funk_accel: everything from $P"; fi
else
  echo "WARNING: /usr/bin/python3 missing: the Python bindings NOT checked"
fi

out=$(env -i PATH=/usr/bin:/bin "$P/bin/funk-accel" plugins 2>&1)
grep -q "$P/lib/funk/libfunk-accel-cpu.so\|cpu" <<<"$out" && ok "installed funk-accel plugins" ||
  fail "funk-accel plugins: $out"
env -i PATH=/usr/bin:/bin "$P/bin/funkd" --help >/dev/null 2>&1 && ok "installed funkd --help" ||
  fail "installed funkd --help"
units=("$P"/lib/systemd/system/funkd.service "$P"/lib/systemd/system/funk-accel-agent.service)
sock_unit=$P/lib/systemd/system/funk-accel-agent.socket
if command -v systemd-analyze >/dev/null; then
  # Offline check (PID 1 need not be systemd): syntax, ExecStart executable, man pages found.
  out=$(MANPATH=$P/share/man systemd-analyze verify "${units[@]}" "$sock_unit" 2>&1)
  rc=$?
  [ $rc -eq 0 ] && [ -z "$out" ] && ok "systemd-analyze verify: funkd.service, funk-accel-agent.service, funk-accel-agent.socket" ||
    fail "systemd-analyze verify (rc $rc): $out"
  grep -q "^ExecStart=$P/bin/funkd " "${units[0]}" || fail "funkd.service does not start $P/bin/funkd"
  grep -q '^ListenStream=/run/funk/accel.sock$' "$sock_unit" && grep -q '^Requires=funk-accel-agent.socket$' "${units[1]}" &&
    ! grep -q -- '--listen' "${units[1]}" && ok "the agent is socket-activated (LISTEN_FDS; no --listen of its own)" ||
    fail "funk-accel-agent socket activation wiring"
  # The hardening stays: systemd's exposure score (0 best .. 10) at most 4.5 (4.0 and 3.7 now).
  for u in "${units[@]}"; do
    score=$(MANPATH=$P/share/man systemd-analyze security --offline=true --threshold=45 "$u" 2>&1 | tail -1)
    rc=$?
    [ $rc -eq 0 ] && ok "hardening: ${score#→ }" || fail "hardening of $(basename "$u") weaker than 4.5: $score"
  done
else
  echo "WARNING: systemd-analyze not installed (apt-get install systemd): units NOT verified"
fi
cd "$ROOT" || exit 1

make -s -C "$ROOT" uninstall PREFIX="$P" >"$TMP/uninstall.log" 2>&1 || { cat "$TMP/uninstall.log"; fail "make uninstall"; }
left=$(cd "$P" && find . -mindepth 1 | sort | tr '\n' ' ')
[ "$left" = "./lib ./lib/other-package.txt " ] && ok "make uninstall removed exactly what was installed" ||
  fail "after uninstall left: $left"

D=$TMP/destdir
make -s -C "$ROOT" install PREFIX=/opt/funk-check DESTDIR="$D" >"$TMP/install2.log" 2>&1 ||
  { cat "$TMP/install2.log"; fail "make install DESTDIR"; }
[ -x "$D/opt/funk-check/bin/funkd" ] && [ ! -e /opt/funk-check ] && ok "DESTDIR install under $D only" ||
  fail "DESTDIR install"
grep -q "^prefix=/opt/funk-check$" "$D/opt/funk-check/lib/pkgconfig/funk-accel.pc" ||
  fail "DESTDIR install: pkg-config prefix is not /opt/funk-check"
make -s -C "$ROOT" uninstall PREFIX=/opt/funk-check DESTDIR="$D" >/dev/null 2>&1 || fail "uninstall DESTDIR"
[ -z "$(find "$D" -mindepth 1 -not -type d)" ] || fail "DESTDIR uninstall left files"

[ $FAILS -eq 0 ] && echo "check-install: all passed" || echo "check-install: $FAILS failed"
exit $((FAILS > 0))
