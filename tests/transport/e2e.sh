#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end transport test on the real binaries: native (cpu plugin) vs rpc plugin + agent give
# identical results; caching, exec, kill mid-call, 100 concurrent clients, reconnect, shutdown.
set -uo pipefail
AGENT=$1 TCLIENT=$2 TLIB=$3 FUNK_ACCEL=$4 EVILLIB=$5
IMG=/usr/share/darknet/data/dog.jpg
T=$(mktemp -d /tmp/funk-transport.XXXXXX)
SOCK=$T/accel.sock
FAILS=0
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

if [ ! -r "$IMG" ]; then
  echo "SKIP: $IMG missing (install Debian package darknet: scripts/deps.sh)"
  exit 77
fi
if [ ! -r "$FUNK_MODEL_DIR/centernet.onnx" ]; then
  echo "SKIP: no model in $FUNK_MODEL_DIR (run scripts/models.sh)"
  exit 77
fi

# The operator's exec directory: tlib installed (mode 0644, ours); evillib is not. evillib's
# constructor creates $MARKER if the agent ever loads it.
mkdir -p "$T/exec"
install -m 0644 "$TLIB" "$T/exec/tlib.so"
export FUNK_TEST_MARKER=$T/evil-ran

# Starts an agent listening on $1 with plugins $2 (extra args after); waits until it answers.
start_agent() {
  local addr=$1 plugins=$2 log=$3
  shift 3
  FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "$addr" --plugins "$plugins" --exec-dir "$T/exec" "$@" 2>"$log" &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  for _ in $(seq 200); do
    if grep -q "listening on" "$log" 2>/dev/null; then return 0; fi
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "agent did not start:"; cat "$log"
  return 1
}

stop_agent() {
  kill -TERM "$1" 2>/dev/null
  wait "$1"
}

rpc() { FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=$ADDR "$@"; }

stats_field() { # stats_field NAME: a counter of the agent at $ADDR
  rpc "$TCLIENT" stats | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# ---- 1. native vs rpc (unix): classify, sgemm, CLI, detect-free paths --------------------------
ADDR=unix://$SOCK
start_agent "$ADDR" cpu:exec "$T/agent.log" || exit 1
A1=$AGENT_PID

FUNK_ACCEL_PLUGINS=cpu "$TCLIENT" classify "$IMG" >"$T/native.txt" || bad "native classify"
rpc "$TCLIENT" classify "$IMG" >"$T/rpc.txt" || bad "rpc classify"
if [ -s "$T/native.txt" ] && cmp -s "$T/native.txt" "$T/rpc.txt"; then
  ok "classify dog.jpg: native == rpc+agent ($(head -1 "$T/native.txt"))"
else
  bad "classify differs: native vs rpc"; diff "$T/native.txt" "$T/rpc.txt"
fi
grep -q '^dog ' "$T/native.txt" || bad "dog.jpg native result has no dog: $(cat "$T/native.txt")"

FUNK_ACCEL_PLUGINS=cpu "$TCLIENT" sgemm >"$T/sg-native.txt" || bad "native sgemm"
rpc "$TCLIENT" sgemm >"$T/sg-rpc.txt" || bad "rpc sgemm"
if [ -s "$T/sg-native.txt" ] && cmp -s "$T/sg-native.txt" "$T/sg-rpc.txt"; then
  ok "fixed sgemm: native == rpc+agent ($(cat "$T/sg-native.txt"))"
else
  bad "sgemm differs"; cat "$T/sg-native.txt" "$T/sg-rpc.txt"
fi

"$FUNK_ACCEL" --plugins cpu classify "$IMG" >"$T/cli-native.txt" 2>&1
FUNK_ACCEL_RPC_ADDRESS=$ADDR "$FUNK_ACCEL" --plugins rpc classify "$IMG" >"$T/cli-rpc.txt" 2>&1
if [ -s "$T/cli-native.txt" ] && cmp -s "$T/cli-native.txt" "$T/cli-rpc.txt"; then
  ok "funk-accel classify: same labels natively and with --plugins rpc"
else
  bad "funk-accel classify differs"; diff "$T/cli-native.txt" "$T/cli-rpc.txt"
fi
"$FUNK_ACCEL" --plugins cpu detect "$IMG" >"$T/det-native.txt" 2>&1
FUNK_ACCEL_RPC_ADDRESS=$ADDR "$FUNK_ACCEL" --plugins rpc detect "$IMG" >"$T/det-rpc.txt" 2>&1
if [ -s "$T/det-native.txt" ] && cmp -s "$T/det-native.txt" "$T/det-rpc.txt"; then
  ok "funk-accel detect: same boxes natively and with --plugins rpc"
else
  bad "detect differs"; diff "$T/det-native.txt" "$T/det-rpc.txt"
fi

# ---- 2. exec of an installed library; per-connection cache; unknown symbol; op, plugins -------
out=$(FUNK_ACCEL_LOG_LEVEL=debug rpc "$TCLIENT" exec "$TLIB" add_i32 40 2 2>"$T/exec1.err")
[ "$out" = "add_i32(40, 2) = 42 (used 4)" ] && ok "exec of an installed library through the agent: $out" || bad "exec: '$out' $(cat "$T/exec1.err")"
grep -q "shipping a resource" "$T/exec1.err" && ok "first client shipped the library" || bad "library not shipped? $(cat "$T/exec1.err")"
out=$(FUNK_ACCEL_LOG_LEVEL=debug rpc "$TCLIENT" exec "$TLIB" add_i32 1 2 2>"$T/exec2.err")
# A client sees only what it sent itself: the second one ships the bytes again (its proof of
# holding them), and the agent still stores them once.
if [ "$out" = "add_i32(1, 2) = 3 (used 4)" ] && grep -q "shipping a resource" "$T/exec2.err"; then
  ok "second client: the first one's upload is invisible to it, it ships the library itself"
else
  bad "second exec: '$out' $(cat "$T/exec2.err")"
fi
[ "$(stats_field cache_entries)" = 1 ] && ok "agent stores the blob once" || bad "cache_entries=$(stats_field cache_entries)"
# A library the operator did not install: shipped, refused, never loaded.
out=$(rpc "$TCLIENT" exec "$EVILLIB" add_i32 1 2 2>&1); rc=$?
if [ $rc != 0 ] && echo "$out" | grep -q "(-1)" && [ ! -e "$FUNK_TEST_MARKER" ]; then
  ok "client-shipped library: exec -> -EPERM, its constructor never ran in the agent"
else
  bad "client-shipped library: rc=$rc '$out' marker: $(ls "$FUNK_TEST_MARKER" 2>&1)"
fi
grep -q "exec refused: library resource" "$T/agent.log" && ok "agent logs the refused exec" || bad "no 'exec refused' log line"
rpc "$TCLIENT" exec "$TLIB" no_such_symbol 1 2 2>"$T/nosym.err" && bad "missing symbol succeeded"
grep -q "(-2)" "$T/nosym.err" && ok "missing symbol: -ENOENT through the agent" || bad "missing symbol: $(cat "$T/nosym.err")"
rpc "$TCLIENT" op no.such.op >"$T/op.txt" 2>&1
grep -q "op no.such.op: -2" "$T/op.txt" && ok "unknown generic op: -ENOENT" || bad "unknown op: $(cat "$T/op.txt")"
rpc "$TCLIENT" plugins >"$T/plugins.txt" 2>&1
grep -q "^cpu " "$T/plugins.txt" && ok "rpc.plugins lists the agent's plugins" || bad "plugins: $(cat "$T/plugins.txt")"

# ---- 3. client killed mid-call: its session and registration are freed ------------------------
FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=$ADDR "$TCLIENT" hold "$TLIB" 3000 >"$T/hold.txt" 2>&1 &
HP=$!
PIDS+=("$HP")
for _ in $(seq 200); do grep -q holding "$T/hold.txt" && break; sleep 0.05; done
sleep 0.3 # now inside a 3 s call on the agent
regs=$(stats_field registrations)
[ "$regs" = 1 ] && ok "holding client has 1 registration" || bad "registrations while holding: $regs"
kill -9 $HP
wait $HP 2>/dev/null
freed=no
for _ in $(seq 100); do
  if [ "$(stats_field sessions)" = 0 ] && [ "$(stats_field registrations)" = 0 ]; then freed=yes; break; fi
  sleep 0.1
done
[ $freed = yes ] && ok "client killed mid-call: agent freed its session and registration" ||
  bad "not freed: $(rpc "$TCLIENT" stats)"
grep -q "closed: freed 1 sessions, 1 registrations" "$T/agent.log" && ok "agent log says what it freed" ||
  bad "no 'freed' log line"

# ---- 4. 100 concurrent clients classifying at once (each its own connection), all correct ----
out=$(rpc "$TCLIENT" concurrent 100 "$IMG" "$T/native.txt" 2>&1)
echo "$out" | grep -q "100/100" && ok "$out" || bad "concurrent: $out"
[ "$(stats_field sessions)" = 0 ] && ok "all 100 connections cleaned up" || bad "sessions left: $(stats_field sessions)"

# ---- 5. same over TCP (127.0.0.1) --------------------------------------------------------------
PORT=$((20000 + RANDOM % 20000))
ADDR=tcp://127.0.0.1:$PORT
if start_agent "$ADDR" cpu:exec "$T/agent-tcp.log"; then
  A2=$AGENT_PID
  rpc "$TCLIENT" classify "$IMG" >"$T/tcp.txt" 2>&1
  cmp -s "$T/native.txt" "$T/tcp.txt" && ok "classify over tcp://127.0.0.1 == native" || bad "tcp classify: $(cat "$T/tcp.txt")"
  stop_agent $A2
else
  bad "agent on $ADDR did not start"
fi
ADDR=unix://$SOCK

# ---- 6. vsock: only where an AF_VSOCK socket can be made (no vhost-vsock on these hosts) ------
if python3 -c 'import socket; socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)' 2>/dev/null &&
   start_agent "vsock://1:$((40000 + RANDOM % 1000))" noop "$T/agent-vsock.log" >/dev/null 2>&1; then
  VADDR=$(sed -n 's/.*listening on //p' "$T/agent-vsock.log")
  out=$(FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=$VADDR "$TCLIENT" noop 10 2>&1)
  [ "$out" = "noop: 10 calls" ] && ok "vsock loopback: $out" || echo "NOTE: vsock socket exists but loopback failed (no transport): $out"
  stop_agent $AGENT_PID
else
  echo "SKIP (part): AF_VSOCK: $(grep -h 'listen vsock' "$T/agent-vsock.log" 2>/dev/null || echo 'no AF_VSOCK sockets') (no vsock transport here); vsock address parsing is covered by transport-proto"
fi

# ---- 7. reconnect after the agent restarts ------------------------------------------------------
coproc RC { rpc "$TCLIENT" reconnect 2>"$T/reconnect.err"; }
RCP=$RC_PID # bash unsets RC_PID as soon as the coprocess ends
read -r -t 20 first <&"${RC[0]}"
[ "$first" = "first 0" ] && ok "reconnect client: first call ok" || bad "reconnect first: $first"
stop_agent $A1
start_agent "$ADDR" cpu:exec "$T/agent2.log" || exit 1
A1=$AGENT_PID
echo go >&"${RC[1]}"
read -r -t 20 after <&"${RC[0]}"
if [ "$after" = "after restart -104 0" ]; then
  ok "agent restarted: call in flight -> -ECONNRESET, next call reconnected"
else
  bad "reconnect: '$after' (want 'after restart -104 0')"
fi
wait "$RCP" 2>/dev/null

# ---- 8. errors: agent down, no address, bad addresses, bad options ------------------------------
FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=unix://$T/nobody.sock "$TCLIENT" noop 1 >/dev/null 2>"$T/down.err" &&
  bad "noop with no agent succeeded"
grep -q "connect unix://$T/nobody.sock" "$T/down.err" && ok "no agent: clear error ($(tail -1 "$T/down.err"))" || bad "no agent: $(cat "$T/down.err")"
FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS= "$TCLIENT" noop 1 >/dev/null 2>"$T/noaddr.err" && bad "noop without address succeeded"
grep -q "FUNK_ACCEL_RPC_ADDRESS is not set" "$T/noaddr.err" && ok "no address: plugin unavailable, says why" || bad "no address: $(cat "$T/noaddr.err")"
FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=ftp://x "$TCLIENT" noop 1 >/dev/null 2>"$T/badaddr.err" && bad "bad address accepted"
grep -q "must start with" "$T/badaddr.err" && ok "bad rpc address refused with a reason" || bad "bad address: $(cat "$T/badaddr.err")"
FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=$ADDR FUNK_ACCEL_RPC_TIMEOUT_MS=soon "$TCLIENT" noop 1 >/dev/null 2>"$T/badto.err" && bad "bad timeout accepted"
grep -q "FUNK_ACCEL_RPC_TIMEOUT_MS=soon" "$T/badto.err" && ok "bad timeout refused" || bad "bad timeout: $(cat "$T/badto.err")"
"$AGENT" --listen tcp://127.0.0.1:99999 2>"$T/a.err"; rc=$?
[ $rc = 2 ] && grep -q "port must be" "$T/a.err" && ok "agent: bad address -> exit 2 with reason" || bad "agent bad address rc=$rc $(cat "$T/a.err")"
"$AGENT" --max-frame 12 2>"$T/a.err"; rc=$?
[ $rc = 2 ] && ok "agent: bad --max-frame -> exit 2" || bad "agent bad max-frame rc=$rc"
"$AGENT" --listen "unix://$T/x.sock" --plugins rpc 2>"$T/a.err"; rc=$?
[ $rc = 2 ] && grep -q "refusing to load the rpc plugin" "$T/a.err" && ok "agent refuses to serve through rpc" || bad "agent with rpc rc=$rc"

# ---- 9. timeout: a call longer than FUNK_ACCEL_RPC_TIMEOUT_MS -> -ETIMEDOUT ---------------------
out=$(FUNK_ACCEL_PLUGINS=rpc FUNK_ACCEL_RPC_ADDRESS=$ADDR FUNK_ACCEL_RPC_TIMEOUT_MS=300 "$TCLIENT" hold "$TLIB" 2000 2>&1)
echo "$out" | grep -q "(-110)" && ok "call over the timeout: -ETIMEDOUT" || bad "timeout: $out"

# ---- 10. clean shutdown on SIGTERM ----------------------------------------------------------------
stop_agent $A1; rc=$?
[ $rc = 0 ] && ok "SIGTERM: agent exits 0" || bad "agent exit status $rc"
[ ! -e "$SOCK" ] && ok "socket file removed" || bad "socket file left behind"
grep -q "stopped:" "$T/agent2.log" && ok "agent logs its shutdown summary" || bad "no shutdown log"

echo "transport e2e: $FAILS failure(s)"
[ $FAILS = 0 ]
