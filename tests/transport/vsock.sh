#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# funk-accel-agent over AF_VSOCK through the kernel's loopback transport (VMADDR_CID_LOCAL = 1):
# noop calls from the rpc plugin. Where the kernel offers no vsock loopback the test says why and
# exits 77 (a skip), never a pass.
set -uo pipefail
AGENT=$1 TCLIENT=$2
T=$(mktemp -d /tmp/funk-vsock.XXXXXX)
AP=
trap '[ -n "$AP" ] && kill -9 $AP 2>/dev/null; rm -rf "$T"' EXIT

skip() { echo "SKIP: vsock: $*"; exit 77; }

python3 -c 'import socket; socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)' 2>/dev/null ||
  skip "this kernel has no AF_VSOCK sockets"
LOOPBACK=no
[ -d /sys/module/vsock_loopback ] && LOOPBACK=yes

for attempt in 1 2 3 4 5; do
  PORT=$((40000 + RANDOM % 20000))
  FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "vsock://1:$PORT" --plugins noop 2>"$T/agent.log" &
  AP=$!
  for _ in $(seq 200); do
    grep -q "listening on" "$T/agent.log" && break
    kill -0 $AP 2>/dev/null || break
    sleep 0.05
  done
  grep -q "listening on" "$T/agent.log" && break
  wait $AP 2>/dev/null; AP=
  grep -q "Address already in use" "$T/agent.log" && continue # another port
  [ $LOOPBACK = yes ] && { echo "FAIL - vsock_loopback is loaded but the agent cannot listen on CID 1:"; cat "$T/agent.log"; exit 1; }
  skip "no vsock loopback transport (module vsock_loopback absent; agent: $(grep -h 'listen vsock' "$T/agent.log" || tail -1 "$T/agent.log"))"
done
[ -n "$AP" ] || { echo "FAIL - no free vsock port after 5 tries"; exit 1; }

out=$(FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=vsock://1:$PORT "$TCLIENT" noop 10 2>&1); rc=$?
if [ $rc = 0 ] && [ "$out" = "noop: 10 calls" ]; then
  echo "ok   - vsock loopback (CID 1, port $PORT): $out"
elif [ $LOOPBACK = no ]; then
  skip "the agent listens but no loopback transport carries the connection: $out"
else
  echo "FAIL - vsock loopback: rc=$rc $out"; exit 1
fi
kill -TERM $AP; wait $AP; rc=$?; AP=
[ $rc = 0 ] || { echo "FAIL - agent exit status $rc"; exit 1; }
echo "ok   - agent stopped cleanly"
