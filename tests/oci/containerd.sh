#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# containerd (a private daemon started here) runs unikernel images through funk-runtime:
# ctr run --runtime io.containerd.runc.v2 --runc-binary funk-runtime; plus delegation (busybox).
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_bin "$RUNTIME" "$IMAGE" "$MONITOR" "$HELLO" "$ABORT" "$LOOP"
need_kvm
need_cmd containerd ctr runc
D=$(mktemp -d /tmp/funk-oci-ctrd.XXXXXX)
cleanup() {
    [ -f "$D/pid" ] && kill "$(cat "$D/pid")" 2>/dev/null && sleep 0.5
    grep " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
    rm -rf "$D"
}
trap cleanup EXIT
cat >"$D/config.toml" <<EOC
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$D/c.sock"
[ttrpc]
  address = "$D/c-ttrpc.sock"
EOC
containerd --config "$D/config.toml" >"$D/log" 2>&1 &
echo $! >"$D/pid"
for _ in $(seq 100); do [ -S "$D/c.sock" ] && break; sleep 0.1; done
[ -S "$D/c.sock" ] || { tail "$D/log"; skip "the private containerd did not start"; }
CTR="timeout 60 ctr -a $D/c.sock"
RUN="$CTR run --runtime io.containerd.runc.v2 --runc-binary $(realpath "$RUNTIME")"

"$IMAGE" build "$HELLO" -t funk-test-hello --archive "$D/hello.tar" >/dev/null &&
    "$IMAGE" build "$ABORT" -t funk-test-abort --archive "$D/abort.tar" >/dev/null &&
    "$IMAGE" build "$LOOP" -t funk-test-loop --archive "$D/loop.tar" >/dev/null
check "images built" 0 $?
for i in hello abort loop; do $CTR images import "$D/$i.tar" >/dev/null || fail "ctr images import $i"; done
check "ctr lists the images" 3 "$($CTR images ls -q | grep -c funk-test-)"

out=$($RUN --rm funk-test-hello:latest h1 </dev/null 2>"$D/err")
check "ctr run hello exits 0" 0 $?
check "ctr run hello output" "Hello from a funk unikernel!" "$out"
$RUN --rm funk-test-abort:latest a1 </dev/null >/dev/null 2>&1
check "ctr run abort: the guest's exit status" 255 $?

$RUN -d funk-test-loop:latest l1 </dev/null >/dev/null 2>&1
check "ctr run -d loop" 0 $?
check "task is running" RUNNING "$($CTR task ls | awk '$1 == "l1" {print $3}')"
$CTR task kill -s SIGTERM l1
for _ in $(seq 100); do [ "$($CTR task ls | awk '$1 == "l1" {print $3}')" = STOPPED ] && break; sleep 0.05; done
check "SIGTERM stopped the task" STOPPED "$($CTR task ls | awk '$1 == "l1" {print $3}')"
$CTR task delete l1 >/dev/null 2>&1 && $CTR containers rm l1
check "task and container removed" 0 $?
check "no containers left" "" "$($CTR containers ls -q)"
check "no runtime state left" "" "$(ls "$D/state/io.containerd.runtime.v2.task/default" 2>/dev/null)"

busybox_rootfs "$D/bb"
out=$($RUN --rm --rootfs "$D/bb" bb1 /bin/sh -c 'echo via runc; exit 4' </dev/null 2>"$D/err")
check "busybox through funk-runtime (delegated): exit status" 4 $?
check "busybox through funk-runtime (delegated): output" "via runc" "$out"
finish
