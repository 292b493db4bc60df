#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podman run --runtime funk-runtime: unikernel images built by funk-image (hello, echo, abort,
# a looping guest stopped by podman stop) and an ordinary busybox image (delegated to runc).
# The bridge-network case is podman_net.sh.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_bin "$RUNTIME" "$IMAGE" "$MONITOR" "$HELLO" "$ECHO" "$ABORT" "$LOOP" "$B/functions/test_globals.elf"
need_kvm
need_cmd podman conmon runc
podman_setup
T=$(mktemp -d /tmp/funk-oci-pm.XXXXXX)
trap 'podman_cleanup; rm -rf "$T"' EXIT

"$IMAGE" build "$HELLO" -t funk-test-hello --archive "$T/hello.tar" >/dev/null &&
    "$IMAGE" build "$ECHO" -t funk-test-echo --mode fn --archive "$T/echo.tar" >/dev/null &&
    "$IMAGE" build "$ABORT" -t funk-test-abort --archive "$T/abort.tar" >/dev/null &&
    "$IMAGE" build "$LOOP" -t funk-test-loop --archive "$T/loop.tar" >/dev/null
check "images built" 0 $?
for i in hello echo abort loop; do
    podman load -q -i "$T/$i.tar" >/dev/null 2>"$T/load.err" || { fail "podman load $i: $(cat "$T/load.err")"; }
done
check "podman sees the images" 4 "$(podman images --format '{{.Repository}}' | grep -c funk-test-)"

out=$($PODMAN_RUN --rm funk-test-hello 2>"$T/err")
checkrc "podman run hello exits 0" 0 $? "$T/err"
check "podman run hello output" "Hello from a funk unikernel!" "$out"
out=$(echo "through podman stdin" | $PODMAN_RUN --rm -i funk-test-echo 2>"$T/err")
checkrc "podman run -i echo exits 0" 0 $? "$T/err"
check "podman run -i echo output" "through podman stdin" "$out"
"$IMAGE" build "$B/functions/test_globals.elf" -t funk-test-globals --cmdline "default args" --archive "$T/globals.tar" >/dev/null &&
    podman load -q -i "$T/globals.tar" >/dev/null
out=$($PODMAN_RUN --rm funk-test-globals 2>&1)
contains "podman: the image's default command line reaches the guest" "[default] [args]" "$out"
out=$($PODMAN_RUN --rm -e GREETING=from-podman funk-test-globals one two 2>&1)
contains "podman: run arguments replace the default ones" "[one] [two]" "$out"
contains "podman: -e reaches the guest's environment" "GREETING=from-podman" "$out"
$PODMAN_RUN --rm funk-test-abort >/dev/null 2>"$T/err"
checkrc "podman run abort: the guest's exit status" 255 $? "$T/err"
$PODMAN_RUN --rm -t funk-test-hello >"$T/tty.out" 2>&1
rc=$?
[ $rc -ne 0 ] && ok "podman run -t refused (exit $rc)" || fail "podman run -t accepted"
contains "podman run -t says why" "terminal" "$(cat "$T/tty.out")"

# A long-running unikernel: podman stop forwards SIGTERM, the exit code says so.
cid=$($PODMAN_RUN -d --name funk-test-loop1 funk-test-loop 2>"$T/err")
checkrc "podman run -d loop" 0 $? "$T/err"
check "podman ps shows it running" running "$(podman inspect -f '{{.State.Status}}' funk-test-loop1)"
# podman passes no --root: funk-runtime's default state root holds the container while it runs
[ -n "$cid" ] && [ -d "/run/funk-runtime/$cid" ] && ok "runtime state of the running container in /run/funk-runtime" ||
    fail "no runtime state for '$cid' in /run/funk-runtime while it runs"
podman stop -t 5 funk-test-loop1 >/dev/null
check "podman stop" 0 $?
check "stopped by SIGTERM (128+15)" 143 "$(podman inspect -f '{{.State.ExitCode}}' funk-test-loop1)"
podman rm funk-test-loop1 >/dev/null
check "podman rm" 0 $?
[ -n "$cid" ] && [ ! -e "/run/funk-runtime/$cid" ] && ok "no runtime state left" || fail "state of '$cid' left behind"

# An ordinary image runs through the same runtime (handed to runc).
busybox_rootfs "$T/bb"
tar -C "$T/bb" -cf "$T/bb.tar" .
podman import -q "$T/bb.tar" funk-test-busybox >/dev/null
check "busybox image imported" 0 $?
out=$($PODMAN_RUN --rm funk-test-busybox /bin/sh -c 'echo delegated to runc; exit 5' 2>"$T/err")
checkrc "busybox through funk-runtime: exit status" 5 $? "$T/err"
check "busybox through funk-runtime: output" "delegated to runc" "$out"
check "no containers left" "" "$(podman ps -aq)"
finish
