# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the oci end-to-end tests: paths, skips, assertions, private podman set-up.
# Sourced by the test scripts; expects FUNK_BUILD_ROOT (meson's test_env) or BUILD.

B=${FUNK_BUILD_ROOT:-${BUILD:-build/test/meson}}
RUNTIME=$B/oci/funk-runtime
IMAGE=$B/oci/funk-image
WATCHDOG=$B/oci/funk-watchdog
MONITOR=$B/monitor/funk-monitor
HELLO=$B/functions/hello.elf
ECHO=$B/functions/echo.elf
ABORT=$B/functions/test_abort.elf
LOOP=$B/functions/test_loop.elf
# Solo5-format guests as Solo5's toolchain lays them out (tests/monitor/solo5)
S5HELLO=$B/tests/monitor/solo5/solo5-test-hello.hvt
S5BLK=$B/tests/monitor/solo5/solo5-test-blk.hvt
FAILS=0

skip() { echo "SKIP: $*" >&2; echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
# check DESCRIPTION EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi; }
# contains DESCRIPTION NEEDLE HAYSTACK
contains() { case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: '$2' not in: $3" ;; esac; }
# show_err FILE: a failed step's stderr goes to the test log, not away with the temp dir
show_err() { [ -s "$1" ] && { echo "--- stderr of the failed step:"; cat "$1"; echo "---"; }; return 0; }
# checkrc DESCRIPTION EXPECTED ACTUAL STDERR-FILE: check, printing the step's stderr on a mismatch
checkrc() { local f=$FAILS; check "$1" "$2" "$3"; [ "$FAILS" -eq "$f" ] || show_err "$4"; }
finish() { if [ "$FAILS" -ne 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi; echo "all checks passed"; exit 0; }

need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, /dev/kvm, container engines)"; }
need_bin() { for b in "$@"; do [ -x "$b" ] || skip "$b is not built"; done; }
need_cmd() {
    for c in "$@"; do
        command -v "$c" >/dev/null || skip "'$c' is not installed (scripts/deps.d/oci.txt lists it; run make deps)"
    done
}
need_kvm() {
    [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not usable here"
    out=$("$MONITOR" "$HELLO" 2>&1) || skip "/dev/kvm does not run guests here: $out"
}

# A private podman: own storage, cgroupfs, file events (see shared/notes/machine.md).
podman_setup() {
    need_cmd podman
    PMDIR=$(mktemp -d /tmp/funk-oci-podman.XXXXXX)
    cat >"$PMDIR/storage.conf" <<EOC
[storage]
driver = "vfs"
graphroot = "$PMDIR/graph"
runroot = "$PMDIR/run"
EOC
    cat >"$PMDIR/containers.conf" <<EOC
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOC
    export CONTAINERS_CONF=$PMDIR/containers.conf CONTAINERS_STORAGE_CONF=$PMDIR/storage.conf
    PODMAN_RUN="podman run --ulimit nofile=20000:20000 --ulimit nproc=1024:1024 --network none --runtime $(realpath "$RUNTIME")"
}
podman_cleanup() {
    [ -n "${PMDIR:-}" ] || return 0
    podman rm -af >/dev/null 2>&1 || true
    podman rmi -af >/dev/null 2>&1 || true
    # vfs layers may hold read-only dirs; podman unmounts its own runroot on exit
    rm -rf "$PMDIR" 2>/dev/null || true
}

# A static busybox rootfs (Debian busybox-static) as the ordinary container of the delegation tests.
busybox_rootfs() {
    [ -x /bin/busybox ] || skip "/bin/busybox missing (apt busybox-static)"
    file -L /bin/busybox 2>/dev/null | grep -q "statically linked" || ldd /bin/busybox 2>&1 | grep -q "not a dynamic" ||
        skip "/bin/busybox is not static (apt busybox-static)"
    mkdir -p "$1/bin" "$1/proc" "$1/dev" "$1/sys" "$1/tmp"
    cp /bin/busybox "$1/bin/"
    for l in sh echo cat true sleep; do ln -sf busybox "$1/bin/$l"; done
}
