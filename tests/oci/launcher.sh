#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 11: a process-backend guest under funk-runtime comes from the clean launcher (started
# before the chroot and the capability drop), never forked from funk-runtime: a canary in
# funk-runtime's environment is not in the guest's memory, the guest sees the container's root,
# and the launcher holds no capability (it runs as the container's user, so funk-runtime can
# still kill its guests). FUNK_PROCESS_LAUNCHER=off is the control:
# there the guest forks from funk-runtime and does hold the canary (so the check can fail).
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_bin "$RUNTIME" "$LOOP"
command -v pgrep >/dev/null || skip "pgrep (procps) is not installed"

T=$(mktemp -d /tmp/funk-oci-launcher.XXXXXX)
ROOT=$T/root
CANARY="FUNKCANARY-oci-$$-$RANDOM$RANDOM"
cleanup() {
    for c in l-on l-off; do "$RUNTIME" --root "$ROOT" delete --force "$c" >/dev/null 2>&1; done
    rm -rf "$T"
}
trap cleanup EXIT
RT() { FUNK_OCI_CANARY=$CANARY "$RUNTIME" --root "$ROOT" "$@"; }

mkdir -p "$T/b/rootfs"
cp "$LOOP" "$T/b/rootfs/loop.elf"
cat >"$T/b/config.json" <<EOC
{"ociVersion":"1.0.2","root":{"path":"rootfs"},
 "process":{"args":["/loop.elf"],"env":["PATH=/"],"cwd":"/"},
 "annotations":{"org.funk.unikernel.isolation":"process","org.funk.unikernel.binary":"/loop.elf"},
 "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"network"}]}}
EOC

# holds_canary PID: does the process's environment area (its memory) hold the canary?
holds_canary() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qx "FUNK_OCI_CANARY=$CANARY"; }
uid_of() { awk '/^Uid:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# The guest runs under its seccomp filter (mode 2); the launcher has none.
seccomp_of() { awk '/^Seccomp:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# start NAME [ENV...]: create and start a container; prints its pid
start() {
    local name=$1; shift
    (cd "$T/b" && env "$@" FUNK_OCI_CANARY="$CANARY" "$RUNTIME" --root "$ROOT" create "$name" \
        >"$T/$name.out" 2>"$T/$name.err") || { show_err "$T/$name.err"; return 1; }
    RT start "$name" 2>>"$T/$name.err" || { show_err "$T/$name.err"; return 1; }
    RT state "$name" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}

# ---- the launcher (default) ----
pid=$(start l-on) || fail "launcher: container did not start"
holds_canary "$pid"
check "the canary is in funk-runtime's container process (the control of the test)" 0 $?
guest="" launcher=""
for _ in $(seq 500); do # up to 5 s for the guest to be cloned
    for c in $(pgrep -P "$pid"); do
        if [ "$(seccomp_of "$c")" = 2 ]; then guest=$c; else launcher=$c; fi
    done
    [ -n "$guest" ] && break
    sleep 0.01
done
[ -n "$guest" ] && ok "launcher: the guest process runs (pid $guest)" ||
    fail "launcher: no guest process under $pid: $(pgrep -a -P "$pid" | tr '\n' ';') $(cat "$T/l-on.err")"
if [ -n "$guest" ]; then
    holds_canary "$guest" && fail "launcher: the guest holds funk-runtime's canary (forked from it)" ||
        ok "launcher: the guest does not hold funk-runtime's canary"
    check "launcher: the guest's environment area is empty (a fresh exec)" 0 "$(wc -c <"/proc/$guest/environ")"
    check "launcher: the guest runs as the container's user" "$(uid_of "$pid")" "$(uid_of "$guest")"
    check "launcher: the guest's root is the container's rootfs" "$(realpath "$T/b/rootfs")" "$(readlink "/proc/$guest/root")"
fi
if [ -n "$launcher" ]; then
    check "the launcher is funk-launcher" funk-launcher "$(cat "/proc/$launcher/comm")"
    check "the launcher holds no capability" 0000000000000000 "$(awk '/^CapEff:/ {print $2}' "/proc/$launcher/status")"
    check "the launcher is in the container's rootfs" "$(realpath "$T/b/rootfs")" "$(readlink "/proc/$launcher/root")"
else
    fail "launcher: no launcher process under $pid"
fi
RT delete --force l-on
check "launcher: delete --force" 0 $?
for _ in $(seq 500); do [ -n "$guest" ] && [ -d "/proc/$guest" ] || break; sleep 0.01; done
[ -n "$guest" ] && [ -d "/proc/$guest" ] && fail "launcher: the guest $guest outlived its container" ||
    ok "launcher: the guest ended with its container"

# ---- the operator's switch: FUNK_PROCESS_LAUNCHER=off forks from funk-runtime (the control) ----
pid=$(start l-off FUNK_PROCESS_LAUNCHER=off) || fail "off: container did not start"
found=""
for _ in $(seq 500); do
    for c in $(pgrep -P "$pid"); do holds_canary "$c" && found=$c; done
    [ -n "$found" ] && break
    sleep 0.01
done
[ -n "$found" ] && ok "off: the forked guest holds funk-runtime's canary (the check sees a fork)" ||
    fail "off: no forked guest holding the canary under $pid"
RT delete --force l-off
check "off: delete --force" 0 $?
finish
