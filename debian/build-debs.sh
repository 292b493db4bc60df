#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make deb: splits the tree `make install PREFIX=/usr DESTDIR=ROOT` produced (the optimized
# product built for /usr) into the binary packages of debian/control, computes library
# dependencies with dpkg-shlibdeps, writes each DEBIAN/control with dpkg-gencontrol and builds
# the .debs with dpkg-deb into OUT (debian/rules runs it too, for dpkg-buildpackage -b). Every installed file must land in exactly one package.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$1 OUT=$2 FILES=${3:-$2/pkgs/files} # FILES: dpkg-gencontrol's list (debian/rules: debian/files)
U=$ROOT/usr
W=$OUT/pkgs
rm -rf "$W" "$OUT"/*.deb
mkdir -p "$W"
rm -f "$U/share/funk/install-manifest" # make install's own record, not part of a package
: >"$W/placed"

# put PKG PATTERN...: copy /usr/PATTERN from ROOT into PKG's tree
put() {
  local pkg=$1 rel src
  shift
  for rel in "$@"; do
    for src in $U/$rel; do
      [ -e "$src" ] || [ -L "$src" ] || continue
      mkdir -p "$W/$pkg/usr/$(dirname "${src#"$U"/}")"
      cp -a "$src" "$W/$pkg/usr/${src#"$U"/}"
      if [ -d "$src" ] && [ ! -L "$src" ]; then
        (cd "$ROOT" && find "usr/${src#"$U"/}" \( -type f -o -type l \)) >>"$W/placed"
      else
        echo "usr/${src#"$U"/}" >>"$W/placed"
      fi
    done
  done
}

pkgs=(funk funk-dev funk-plugin-cpu funk-plugin-opencl funk-models)
put funk bin/funk bin/funkd 'bin/funk-*' 'lib/libfunk-accel.so.*' lib/funk/libfunk-accel-noop.so \
  lib/funk/libfunk-accel-exec.so lib/funk/libfunk-accel-rpc.so unikernels share/man share/doc/funk lib/systemd \
  'lib/libvaccel.so.*' lib/funk/exec
echo usr/lib/funk/bench/funk-bench-http >>"$W/placed" # benchmark client, not a product binary
put funk-dev include lib/libfunk-accel.so lib/libvaccel.so 'lib/*.a' lib/pkgconfig share/funk/guest.ld \
  share/funk/templates
# funk-cc (the guest SDK's compiler driver) and its man page go with the SDK, not with bin/funk-*
for rel in bin/funk-cc share/man/man1/funk-cc.1; do
  if [ -e "$W/funk/usr/$rel" ]; then
    mkdir -p "$W/funk-dev/usr/$(dirname "$rel")"
    mv "$W/funk/usr/$rel" "$W/funk-dev/usr/$rel"
  fi
done
put funk-plugin-cpu lib/funk/libfunk-accel-cpu.so
put funk-plugin-opencl lib/funk/libfunk-accel-opencl.so
put funk-models share/funk/models
if [ -e "$U/lib/funk/libfunk-accel-cuda.so" ]; then
  put funk-plugin-cuda lib/funk/libfunk-accel-cuda.so
  pkgs+=(funk-plugin-cuda)
else
  echo "deb: no cuda plugin in this build (no CUDA toolkit): funk-plugin-cuda not built"
fi
if [ -e "$U/lib/funk/libfunk-accel-torch.so" ]; then
  put funk-plugin-torch lib/funk/libfunk-accel-torch.so
  pkgs+=(funk-plugin-torch)
else
  echo "deb: no torch plugin in this build (no libtorch-dev): funk-plugin-torch not built"
fi
[ -d "$W/funk-models/usr" ] || { echo "deb: no models installed (run make models first)" >&2; exit 1; }

# Every file of the install is in a package (nothing silently dropped).
missing=$(cd "$ROOT" && find usr \( -type f -o -type l \) | sort | comm -23 - <(sort -u "$W/placed"))
[ -z "$missing" ] || { echo "deb: installed files in no package: $missing" >&2; exit 1; }

for pkg in "${pkgs[@]}"; do
  d=$W/$pkg
  mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$pkg"
  cp debian/copyright "$d/usr/share/doc/$pkg/copyright"
  printf 'misc:Depends=\n' >"$W/$pkg.substvars"
  # Dynamic ELF files only; the cuda toolkit's libraries belong to no Debian package.
  elfs=()
  while IFS= read -r f; do
    readelf -d "$f" 2>/dev/null | grep -q '(NEEDED)' && elfs+=("$f")
  done < <(find "$d/usr" -type f \( -path '*/bin/*' -o -name '*.so*' \))
  if [ ${#elfs[@]} -gt 0 ] && [ "$pkg" != funk-plugin-cuda ]; then
    dpkg-shlibdeps -T"$W/$pkg.substvars" -l"$U/lib" -l"$U/lib/funk" "${elfs[@]}" 2>"$W/$pkg.shlibdeps.log" ||
      { cat "$W/$pkg.shlibdeps.log" >&2; exit 1; }
  fi
  dpkg-gencontrol -p"$pkg" -P"$d" -T"$W/$pkg.substvars" -f"$FILES"
  dpkg-deb --root-owner-group -Zxz --build "$d" "$OUT/" >/dev/null
done
ls -1 "$OUT"/*.deb | while read -r deb; do
  printf '%-40s %8s KiB  %s\n' "$(basename "$deb")" "$(( $(stat -c %s "$deb") / 1024 ))" \
    "$(dpkg-deb -f "$deb" Depends | cut -c1-100)"
done
