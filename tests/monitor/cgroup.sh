#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Per-guest cgroups (process backend): the memory limit ends a guest that goes over it (exit 69)
# while the same run without it succeeds; CPU bandwidth and the process count are set in the
# guest's own cgroup, which root owns (the guest user cannot write it); the cgroup is gone
# after the guest; FUNK_CGROUP=off and =required do what they say.
set -u
MON=${1:?usage: cgroup.sh PATH/TO/funk-monitor}
U="${FUNK_BUILD_ROOT:-}/functions"
BB=/bin/busybox
T=$(mktemp -d)
fails=0
bgpid=
cleanup() {
    [ -n "$bgpid" ] && kill -9 "$bgpid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: per-guest cgroups need a supervisor that may create cgroups (root); running as uid $(id -u)"
    exit 77
fi
if ! grep -qE '\scgroup2?\s' /proc/mounts; then
    echo "SKIP: no cgroup file system is mounted on this host"
    exit 77
fi
# May this host's root create cgroups at all (a container with a read-only /sys/fs/cgroup may
# not)? The monitor's own FUNK_CGROUP=required run answers it.
if ! FUNK_CGROUP=required "$MON" --isolation=process "$U/hello.elf" >/dev/null 2>"$T/probe.err"; then
    if grep -q "cgroup for the guest" "$T/probe.err"; then
        echo "SKIP: this host does not let root create cgroups: $(cat "$T/probe.err")"
        exit 77
    fi
fi
[ -f "$U/test_loop.elf" ] || { echo "FAIL: $U/test_loop.elf not built"; exit 1; }
[ -x "$BB" ] || { echo "FAIL: $BB missing (Debian busybox-static, scripts/deps.d)"; exit 1; }

ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 1. Memory: awk doubles a string to 16 MiB (with copies: > 32 MiB touched).
AWK='BEGIN{ s="x"; while (length(s) < 10000000) s = s s; print length(s) }'
out=$(echo | FUNK_CGROUP=required timeout 120 "$MON" --linux --mem=256 "$BB" awk "$AWK" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && [ "$out" = 16777216 ] && ok "without a memory limit awk prints 16777216" ||
    fail "control run: rc=$rc out=$out"
out=$(echo | FUNK_CGROUP=required timeout 120 "$MON" --linux --mem=256 --memory-limit=16M "$BB" awk "$AWK" 2>&1)
rc=$?
if [ "$rc" -eq 69 ] && grep -q "over its memory limit" <<<"$out"; then
    ok "--memory-limit=16M: the guest ends with exit 69 ($out)"
else
    fail "--memory-limit=16M: rc=$rc (want 69), output: $out"
fi

# 2. A spinning guest: its cgroup (read through /proc/PID/cgroup) has the limits, root owns it.
guest_pid() { # the guest process: a child of the monitor inside a funk-<pid>/g<n> cgroup
    local mon=$1 p
    for p in $(pgrep -P "$mon"); do
        grep -qE ':/.*funk-[0-9]+/g[0-9]+$' "/proc/$p/cgroup" 2>/dev/null && { echo "$p"; return 0; }
    done
    return 1
}
cgdir() { # cgdir PID CONTROLLER -> the directory of that pid's cgroup (v1 or v2)
    local line path
    line=$(grep -E "^[0-9]+:([^:]*,)?$2(,[^:]*)?:" "/proc/$1/cgroup")
    if [ -n "$line" ]; then
        path=${line#*:*:}
        echo "/sys/fs/cgroup/$2$path"
    else
        path=$(sed -n 's/^0:://p' "/proc/$1/cgroup")
        for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
            [ -d "$m$path" ] && { echo "$m$path"; return; }
        done
    fi
}
FUNK_CGROUP=required "$MON" --isolation=process --timeout=30 --cpus=0.1 --pids-limit=1 \
    "$U/test_loop.elf" >"$T/loop.out" 2>&1 &
bgpid=$!
g=
for _ in $(seq 1 300); do
    g=$(guest_pid "$bgpid") && break
    sleep 0.05
done
if [ -z "$g" ]; then
    fail "no guest process in its own cgroup found under funk-monitor ($bgpid)"
    cat "$T/loop.out"
else
    mem=$(cgdir "$g" memory) cpu=$(cgdir "$g" cpu) pids=$(cgdir "$g" pids)
    if [ -f "$cpu/cpu.cfs_quota_us" ]; then
        q=$(cat "$cpu/cpu.cfs_quota_us") p=$(cat "$cpu/cpu.cfs_period_us")
    else
        read -r q p <"$cpu/cpu.max"
    fi
    [ "$q" = 10000 ] && [ "$p" = 100000 ] && ok "--cpus=0.1: quota $q us per $p us" ||
        fail "--cpus=0.1: quota '$q' period '$p' in $cpu"
    [ "$(cat "$pids/pids.max")" = 1 ] && ok "pids.max 1" || fail "pids.max: $(cat "$pids/pids.max")"
    lim=$(cat "$mem/memory.limit_in_bytes" 2>/dev/null || cat "$mem/memory.max")
    # default: guest memory (8 MiB) + 64 MiB
    [ "$lim" = $(((8 + 64) << 20)) ] && ok "default memory limit $lim" || fail "memory limit: $lim"
    # The guest runs as 65534; its cgroup's files belong to root and are not writable by others.
    [ "$(stat -c %u /proc/"$g")" = 65534 ] && ok "guest runs as 65534" ||
        fail "guest uid $(stat -c %u /proc/"$g")"
    bad=$(find "$mem" "$cpu" "$pids" -maxdepth 1 \( ! -user 0 -o -perm -o+w \) | head -3)
    [ -z "$bad" ] && ok "the guest's cgroup files are root's, not writable by others" ||
        fail "writable or foreign-owned cgroup files: $bad"
    if command -v setpriv >/dev/null; then
        if setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo max > '$pids/pids.max'" 2>/dev/null; then
            fail "uid 65534 could raise pids.max"
        else
            ok "uid 65534 cannot write pids.max"
        fi
    fi
    # CPU time over ~1.5 s wall: at most about 0.1 core (0.15 s), plus slack for start-up.
    t0=$(awk '{print $14 + $15}' "/proc/$g/stat")
    sleep 1.5
    t1=$(awk '{print $14 + $15}' "/proc/$g/stat" 2>/dev/null || echo "$t0")
    hz=$(getconf CLK_TCK)
    used=$(((t1 - t0) * 1000 / hz))
    [ "$used" -le 400 ] && ok "CPU used in 1.5 s under --cpus=0.1: ${used} ms" ||
        fail "CPU used in 1.5 s under --cpus=0.1: ${used} ms (> 400)"
    kill "$bgpid" 2>/dev/null
    wait "$bgpid" 2>/dev/null
    bgpid=
    # The guest's cgroup is removed with it.
    for _ in $(seq 1 100); do
        [ -d "$mem" ] || [ -d "$pids" ] || break
        sleep 0.05
    done
    # the monitor was killed (SIGTERM, no cleanup of its own): the guest died with it
    # (PDEATHSIG); its empty cgroup is swept by the next supervisor's start
    echo | FUNK_CGROUP=required "$MON" --linux "$BB" true >/dev/null 2>&1
    [ ! -d "$mem" ] && [ ! -d "$pids" ] && ok "a dead supervisor's cgroups are swept by the next" ||
        fail "left behind: $mem $pids"
fi

# 3. A guest that ends normally leaves no cgroup behind (its monitor's funk-<pid> holds no g<n>;
#    other tests' supervisors, killed or alive, are none of this check's business).
echo hi | FUNK_CGROUP=required "$MON" --linux "$BB" cat >/dev/null 2>&1 &
mpid=$!
wait "$mpid" || fail "busybox cat"
left=$(find /sys/fs/cgroup -type d -path "*/funk-$mpid/g*" 2>/dev/null)
[ -z "$left" ] && ok "no guest cgroup left after a run" || fail "left: $left"

# 4. FUNK_CGROUP=off: no cgroup (the memory limit is not enforced, so awk succeeds).
out=$(echo | FUNK_CGROUP=off timeout 120 "$MON" --linux --mem=256 --memory-limit=16M "$BB" awk "$AWK" 2>&1)
[ "$out" = 16777216 ] && ok "FUNK_CGROUP=off: no limit applied" || fail "FUNK_CGROUP=off: $out"

# 5. Bad values are usage errors.
for a in --memory-limit=1M --memory-limit=12X --cpus=0 --cpus=abc --pids-limit=0; do
    "$MON" --isolation=process "$a" "$U/test_loop.elf" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 64 ] && ok "$a -> 64" || fail "$a -> $rc (want 64)"
done

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all cgroup checks passed"
