#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# funk-accel-agent's own sandbox, probed from inside by an installed exec library: with
# --user 65534:65534 it cannot open /etc/shadow; its seccomp filter refuses personality() and
# TCP sockets. The same probes against an agent started without them succeed, so the test can
# tell a working sandbox from probes that always fail.
set -uo pipefail
AGENT=$1 TCLIENT=$2 SANDBOXLIB=$3
T=$(mktemp -d /tmp/funk-sandbox.XXXXXX)
AP=
trap '[ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$T"' EXIT
FAILS=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (to start the agent as root and drop)"; exit 77; }
[ -r /etc/shadow ] || { echo "SKIP: /etc/shadow is not readable by root here"; exit 77; }
# The unprivileged agent must reach its exec directory; the socket lives beside it.
chmod 0755 "$T"
mkdir -m 0755 "$T/exec"
install -m 0644 "$SANDBOXLIB" "$T/exec/sandboxlib.so"

start() { # start NAME ARGS...: an agent on $T/NAME.sock
  local name=$1
  shift
  FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "unix://$T/$name.sock" --plugins exec:noop \
    --exec-dir "$T/exec" "$@" 2>"$T/$name.log" &
  AP=$!
  for _ in $(seq 200); do
    grep -q "listening on" "$T/$name.log" && return 0
    kill -0 $AP 2>/dev/null || break
    sleep 0.05
  done
  echo "agent $name did not start:"; cat "$T/$name.log"; exit 1
}
stop() { kill -TERM $AP; wait $AP; local rc=$?; AP=; return $rc; }
probe() { # probe NAME SYMBOL: prints the call's result code
  local out
  out=$(FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=unix://$T/$1.sock "$TCLIENT" exec "$SANDBOXLIB" "$2" 0 0 2>&1)
  case $out in
    *" = "*) echo 0 ;;
    *"("*")") echo "$out" | sed -n 's/.*(\(-[0-9]*\))$/\1/p' | tail -1 ;;
    *) echo "?($out)" ;;
  esac
}

start open --no-seccomp
r1=$(probe open open_shadow) r2=$(probe open query_personality) r3=$(probe open tcp_socket)
[ "$r1" = 0 ] && [ "$r2" = 0 ] && [ "$r3" = 0 ] && ok "unsandboxed agent (root, no filter): the probes succeed" ||
  bad "unsandboxed probes: open_shadow=$r1 personality=$r2 socket=$r3 (the test cannot tell anything)"
stop || bad "unsandboxed agent exit status"

start boxed --user 65534:65534
pid=$AP
uid=$(awk '/^Uid:/ {print $2 "," $3 "," $4 "," $5}' /proc/$pid/status)
[ "$uid" = "65534,65534,65534,65534" ] && ok "agent runs as uid 65534 (real, effective, saved, fs)" || bad "agent uids: $uid"
grp=$(awk '/^Groups:/ {print $2}' /proc/$pid/status)
[ -z "$grp" ] || [ "$grp" = 65534 ] && ok "no supplementary groups kept" || bad "groups: $(grep ^Groups /proc/$pid/status)"
r=$(probe boxed open_shadow)
[ "$r" = -13 ] && ok "after the drop: open(/etc/shadow) -> -EACCES" || bad "open /etc/shadow after drop: $r"
r=$(probe boxed query_personality)
[ "$r" = -1 ] && ok "seccomp: personality() -> -EPERM" || bad "personality under the filter: $r"
r=$(probe boxed tcp_socket)
[ "$r" = -1 ] && ok "seccomp: socket(AF_INET) -> -EPERM" || bad "tcp socket under the filter: $r"
grep -q "seccomp filter loaded" "$T/boxed.log" && grep -q "running as uid 65534" "$T/boxed.log" &&
  ok "agent logs the drop and the filter" || bad "log: $(cat "$T/boxed.log")"
out=$(FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=unix://$T/boxed.sock "$TCLIENT" noop 5 2>&1)
[ "$out" = "noop: 5 calls" ] && ok "sandboxed agent still serves calls" || bad "noop: $out"
stop || bad "sandboxed agent exit status"

"$AGENT" --user 0:0 2>"$T/usage.err"; rc=$?
[ $rc = 64 ] && ok "--user 0:0 refused (exit 64, a usage error)" || bad "--user 0:0: rc=$rc"
echo "agent sandbox: $FAILS failure(s)"
[ $FAILS = 0 ]
