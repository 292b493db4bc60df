# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/arm64/system.sh and bench/arm64/run.sh: Debian's arm64 kernel and busybox
# (apt-get download, cached), an initramfs root with the shared libraries a binary needs, and one
# bounded boot of it in qemu-system-aarch64 with the emulated EL2 (so KVM works inside).
# The caller sets ARM64_WHO (message prefix), ROOT (source tree) and PREFIX (installed cross build).
CACHE=${FUNK_ARM64_CACHE:-$ROOT/.cache/arm64}
BOOT_LIMIT=${FUNK_ARM64_TIMEOUT:-420}
skip() { echo "$ARM64_WHO: SKIPPED: $*" >&2; exit 77; }
fail() { echo "$ARM64_WHO: FAIL: $*" >&2; exit 1; }

arm64_need_qemu() {
  command -v qemu-system-aarch64 >/dev/null ||
    skip "qemu-system-aarch64 is not installed (Debian qemu-system-arm; scripts/deps.d/arm64.txt)"
}

# The kernel (what linux-image-arm64:arm64 depends on) and busybox-static:arm64, once.
arm64_fetch() {
  mkdir -p "$CACHE" || fail "cannot create $CACHE"
  local kpkg
  if [ ! -s "$CACHE/vmlinuz" ]; then
    kpkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$kpkg" ] || fail "no linux-image-arm64:arm64 in apt (dpkg --add-architecture arm64; apt-get update)"
    rm -rf "$CACHE/debs"
    arm64_download "$kpkg"
    dpkg-deb --fsys-tarfile "$CACHE"/debs/linux-image-*.deb | tar -xO --wildcards './boot/vmlinuz-*' \
      >"$CACHE/vmlinuz.tmp" && [ -s "$CACHE/vmlinuz.tmp" ] || fail "no /boot/vmlinuz-* in $kpkg"
    mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
    rm -f "$CACHE"/debs/linux-image-*.deb
  fi
  if [ ! -s "$CACHE/busybox" ]; then
    arm64_download busybox-static:arm64
    dpkg-deb --fsys-tarfile "$CACHE"/debs/busybox-static_*.deb | tar -xO ./bin/busybox >"$CACHE/busybox.tmp" &&
      [ -s "$CACHE/busybox.tmp" ] || fail "no /bin/busybox in busybox-static:arm64"
    chmod +x "$CACHE/busybox.tmp" && mv "$CACHE/busybox.tmp" "$CACHE/busybox"
  fi
}

arm64_download() { # PACKAGE: its .deb into $CACHE/debs (apt-get download, by name and arch)
  mkdir -p "$CACHE/debs" && (cd "$CACHE/debs" && apt-get download -q "$1" >/dev/null 2>&1) ||
    fail "apt-get download $1 failed (needs 'dpkg --add-architecture arm64' and apt-get update)"
}

arm64_root() { # DIR: the folders and busybox
  mkdir -p "$1"/{bin,sbin,proc,sys,dev,tmp,uk,lib/aarch64-linux-gnu,etc} || fail "mkdir $1"
  cp "$CACHE/busybox" "$1/bin/busybox" || fail "cannot copy busybox"
}

# DIR BINARY...: the NEEDED libraries of each binary, resolved in the build prefix and the arm64
# multiarch folders, recursively, into DIR/lib/aarch64-linux-gnu, and the program interpreter.
arm64_libs() {
  local rd=$1 f n d found interp
  shift
  local libdirs=("$PREFIX/lib" /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu)
  local -A seen=()
  local queue=("$@")
  while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}; queue=("${queue[@]:1}")
    for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
      [ -n "${seen[$n]:-}" ] && continue
      seen[$n]=1
      found=
      for d in "${libdirs[@]}"; do
        if [ -e "$d/$n" ]; then found=$d/$n; break; fi
      done
      [ -n "$found" ] || fail "$(basename "$f") needs $n, not found in ${libdirs[*]}"
      cp -L "$found" "$rd/lib/aarch64-linux-gnu/$n"
      queue+=("$rd/lib/aarch64-linux-gnu/$n")
    done
  done
  for f in "$@"; do
    interp=$(readelf -l "$f" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
    [ -n "$interp" ] || continue
    mkdir -p "$rd$(dirname "$interp")" && cp -L "$interp" "$rd$interp" || fail "cannot copy $interp"
  done
}

# DIR LOG: pack DIR (with its /init) and boot it; the console goes to LOG; returns QEMU's status
# (124 past FUNK_ARM64_TIMEOUT). The kernel is a gzip'd Image, which QEMU loads for -kernel.
arm64_boot() {
  (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$1.initrd.gz" || fail "cpio"
  timeout "$BOOT_LIMIT" qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max \
    -smp 1 -m 1024 -nographic -nic none -no-reboot -kernel "$CACHE/vmlinuz" -initrd "$1.initrd.gz" \
    -append "console=ttyAMA0 rdinit=/init panic=-1 quiet loglevel=3" >"$2" 2>&1 </dev/null
}
