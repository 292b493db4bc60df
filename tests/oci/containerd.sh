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
# Unique per run: the namespace (the runc shim's state lives under RUNC_ROOT/NAMESPACE) and every
# container id, so nothing collides with another run or with a host containerd.
NS=funk-oci-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
# funk-runtime's state root as the runc shim names it: --runc-root/NAMESPACE. $D/runc does not
# exist yet, as /run/containerd/runc does not on a fresh host: the first create must make it.
RUNC_ROOT=$D/runc
STATE_ROOT=$RUNC_ROOT/$NS
cleanup() {
    if [ -f "$D/pid" ]; then
        pid=$(cat "$D/pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
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
CTR="timeout 60 ctr -a $D/c.sock -n $NS"
RUN="$CTR run --runtime io.containerd.runc.v2 --runc-binary $(realpath "$RUNTIME") --runc-root $RUNC_ROOT"
ID=c$$ # container ids: $ID-hello, ...

"$IMAGE" build "$HELLO" -t funk-test-hello --archive "$D/hello.tar" >/dev/null &&
    "$IMAGE" build "$ABORT" -t funk-test-abort --archive "$D/abort.tar" >/dev/null &&
    "$IMAGE" build "$LOOP" -t funk-test-loop --archive "$D/loop.tar" >/dev/null
check "images built" 0 $?
for i in hello abort loop; do $CTR images import "$D/$i.tar" >/dev/null 2>"$D/err" || { fail "ctr images import $i"; show_err "$D/err"; }; done
check "ctr lists the images" 3 "$($CTR images ls -q | grep -c funk-test-)"

[ -e "$RUNC_ROOT" ] && fail "the runc root $RUNC_ROOT exists before the first run"
out=$($RUN --rm funk-test-hello:latest "$ID-hello" </dev/null 2>"$D/err")
checkrc "ctr run hello (first run, fresh runc root) exits 0" 0 $? "$D/err"
check "ctr run hello output" "Hello from a funk unikernel!" "$out"
check "funk-runtime made its state root (mode 0700)" 700 "$(stat -c %a "$STATE_ROOT" 2>&1)"
out=$($RUN --rm funk-test-abort:latest "$ID-abort" </dev/null 2>"$D/err")
checkrc "ctr run abort: the guest's exit status" 255 $? "$D/err"
contains "ctr run abort: the guest's console before the abort" "abort: calling abort()" "$out"

$RUN -d funk-test-loop:latest "$ID-loop" </dev/null >/dev/null 2>"$D/err"
checkrc "ctr run -d loop" 0 $? "$D/err"
task_status() { $CTR task ls | awk -v id="$1" '$1 == id {print $3}'; }
check "task is running" RUNNING "$(task_status "$ID-loop")"
check "funk-runtime holds the running container in its own state root" "$ID-loop" "$(ls "$STATE_ROOT" 2>&1)"
check "funk-runtime's state says running" running "$("$RUNTIME" --root "$STATE_ROOT" state "$ID-loop" 2>&1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>&1)"
$CTR task kill -s SIGTERM "$ID-loop" 2>"$D/err" || { fail "ctr task kill"; show_err "$D/err"; }
for _ in $(seq 200); do [ "$(task_status "$ID-loop")" = STOPPED ] && break; sleep 0.05; done
check "SIGTERM stopped the task" STOPPED "$(task_status "$ID-loop")"
{ $CTR task delete "$ID-loop" >/dev/null && $CTR containers rm "$ID-loop"; } 2>"$D/err"
checkrc "task and container removed" 0 $? "$D/err"
check "no containers left" "" "$($CTR containers ls -q)"
check "no state left in funk-runtime's state root" "" "$(ls -A "$STATE_ROOT" 2>&1)"

busybox_rootfs "$D/bb"
out=$($RUN --rm --rootfs "$D/bb" "$ID-bb" /bin/sh -c 'echo via runc; exit 4' </dev/null 2>"$D/err")
checkrc "busybox through funk-runtime (delegated): exit status" 4 $? "$D/err"
check "busybox through funk-runtime (delegated): output" "via runc" "$out"
check "delegated container: no state left in the state root" "" "$(ls -A "$STATE_ROOT" 2>&1)"
[ "$FAILS" -eq 0 ] || { echo "--- containerd log (tail):"; tail -30 "$D/log"; }
finish
