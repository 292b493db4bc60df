#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make check-deb: builds the Debian packages (make deb), installs them with dpkg into a
# throwaway root (its own --admindir, so the machine's package database is untouched) and runs
# the installed programs from there: hello under funk-monitor, funk-accel noop and classify
# (installed cpu plugin and funk-models), the Python bindings' classify example (import
# funk_accel from python3-funk-accel), funkd --help. Nothing may come from the build tree.
# dpkg --root installs under a folder, so the binaries' /usr/lib rpath does not reach the root's
# libfunk-accel: LD_LIBRARY_PATH=ROOT/usr/lib is the one unavoidable crutch (a chroot would need
# the whole of libc and OpenCV inside it).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
IMG=/usr/share/darknet/data/dog.jpg
command -v dpkg-deb >/dev/null || { echo "FAIL: dpkg-deb not installed"; exit 1; }
TMP=$(mktemp -d /tmp/funk-check-deb.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

make -s -C "$ROOT" deb BUILD="$ROOT/build" >"$TMP/deb.log" 2>&1 || { cat "$TMP/deb.log"; echo "FAIL: make deb"; exit 1; }
grep '\.deb ' "$TMP/deb.log"
debs=("$ROOT"/build/deb/*.deb)
for p in funk funk-dev funk-plugin-cpu funk-plugin-opencl funk-models python3-funk-accel; do
  ls "$ROOT"/build/deb/"${p}"_*.deb >/dev/null 2>&1 || fail "no $p package"
done

R=$TMP/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
# --force-depends: the throwaway root holds only our packages, not libc/OpenCV (the host has them).
if dpkg --root="$R" --admindir="$R/var/lib/dpkg" --log=/dev/null --force-depends --force-not-root \
    -i "${debs[@]}" >"$TMP/dpkg.log" 2>&1; then
  ok "dpkg -i of ${#debs[@]} packages into $R"
else
  cat "$TMP/dpkg.log"; fail "dpkg -i into the throwaway root"
fi
dpkg --root="$R" --admindir="$R/var/lib/dpkg" -l 2>/dev/null | grep '^ii' | awk '{print "  " $2, $3}'
B=$R/usr/bin
run() { env -i PATH=/usr/bin:/bin HOME="$TMP" LD_LIBRARY_PATH="$R/usr/lib" "$@"; }

out=$(run "$B/funk-monitor" "$R/usr/unikernels/hello.elf" 2>&1)
rc=$?
[ $rc -eq 0 ] && grep -q "Hello from a funk unikernel" <<<"$out" && ok "installed funk-monitor runs hello.elf" ||
  fail "funk-monitor hello: rc=$rc: $out"
out=$(run "$B/funk-accel" --plugins noop noop 1000 2>&1) && grep -q "ns/op" <<<"$out" &&
  ok "installed funk-accel noop: $(tr '\n' ' ' <<<"$out")" || fail "funk-accel noop: $out"
if [ -r "$IMG" ]; then
  out=$(run LD_DEBUG=libs "$B/funk-accel" classify "$IMG" 2>"$TMP/ld.txt")
  grep -q "^dog " <<<"$out" && ok "installed funk-accel classify: $(tr '\n' ' ' <<<"$out")" ||
    fail "funk-accel classify: $out $(tail -3 "$TMP/ld.txt")"
  grep -q "calling init: $R/usr/lib/funk/libfunk-accel-cpu.so" "$TMP/ld.txt" &&
    ok "cpu plugin loaded from the root" || fail "cpu plugin not loaded from $R"
  if grep -F "$ROOT/" "$TMP/ld.txt" | grep -q .; then fail "loaded from the build tree: $(grep -F "$ROOT/" "$TMP/ld.txt" | head -2)"
  else ok "nothing loaded from $ROOT"; fi
else
  echo "note: $IMG missing (darknet): classify not checked"
fi
# The Python bindings: Debian's python3 imports funk_accel from the root's dist-packages (PYTHONPATH
# is the crutch dpkg --root needs, as LD_LIBRARY_PATH is for the library) and the packaged
# example classifies dog.jpg through the packaged plugin and models (no bytecode written into the
# root: the package has no maintainer scripts to byte-compile or clean).
PYEX=$R/usr/share/doc/python3-funk-accel/examples/classify.py
if [ -r "$IMG" ] && [ -x /usr/bin/python3 ]; then
  out=$(run PYTHONPATH="$R/usr/lib/python3/dist-packages" PYTHONDONTWRITEBYTECODE=1 LD_DEBUG=libs /usr/bin/python3 "$PYEX" "$IMG" 2>"$TMP/pyld.txt")
  grep -q "^dog " <<<"$out" && ok "python3-funk-accel example classify: $(tr '\n' ' ' <<<"$out")" ||
    fail "python3 classify.py: $out $(grep -v '^ *[0-9]*:' "$TMP/pyld.txt" | tail -3)"
  grep -q "calling init: $R/usr/lib/python3/dist-packages/funk_accel/_native" "$TMP/pyld.txt" &&
    grep -q "calling init: $R/usr/lib/libfunk-accel.so" "$TMP/pyld.txt" &&
    ok "funk_accel and libfunk-accel loaded from the root" || fail "funk_accel not loaded from $R"
  if grep -F "$ROOT/" "$TMP/pyld.txt" | grep -q .; then fail "python3 loaded from the build tree: $(grep -F "$ROOT/" "$TMP/pyld.txt" | head -2)"
  else ok "python3: nothing loaded from $ROOT"; fi
else
  echo "note: $IMG or /usr/bin/python3 missing: the Python bindings not checked"
fi
out=$(run "$B/funkd" --help 2>&1) && grep -qi "usage" <<<"$out" && ok "installed funkd --help" ||
  fail "funkd --help: $out"

dpkg --root="$R" --admindir="$R/var/lib/dpkg" --log=/dev/null --force-not-root \
  -P python3-funk-accel funk-plugin-torch funk-plugin-cuda funk-plugin-opencl funk-plugin-cpu funk-dev funk-models funk >/dev/null 2>&1 ||
  fail "dpkg --purge"
left=$(cd "$R" && find usr -not -type d 2>/dev/null | head -5)
[ -z "$left" ] && ok "dpkg --purge removed every file" || fail "left after purge: $left"

[ $FAILS -eq 0 ] && echo "check-deb: all passed" || echo "check-deb: $FAILS failed"
exit $((FAILS > 0))
