#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end transport test on the real binaries: native (cpu plugin) vs rpc plugin + agent give
# identical results checked against what the answers must contain (and sgemm against a naive
# reference); exec only of the operator's libraries; per-connection cache visibility; kill
# mid-call, 100 concurrent clients, reconnect, shutdown. vsock has its own test (vsock.sh).
set -uo pipefail
AGENT=$1 TCLIENT=$2 TLIB=$3 FUNK_ACCEL=$4 EVILLIB=$5
HERE=$(dirname "$0")
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
# tlib's sleep_ms creates this once a long call is running inside the agent.
export FUNK_TLIB_SLEEPING=$T/sleeping

# Starts an agent listening on $1 with plugins $2 (extra args after); waits until it answers.
# Returns 2 when the address was taken (the caller picks another port).
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
  wait "$AGENT_PID" 2>/dev/null
  grep -q "Address already in use" "$log" && return 2
  echo "agent did not start:"; cat "$log"
  return 1
}

# A port the kernel says is free now; start_agent may still lose it to another process.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_ok NAME OUT CMD...: runs CMD with stdout to OUT and stderr to OUT.err; a failure is reported.
run_ok() {
  local name=$1 out=$2
  shift 2
  "$@" >"$out" 2>"$out.err"
  local rc=$?
  [ $rc = 0 ] || bad "$name exited $rc: $(tail -3 "$out.err")"
  return $rc
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
# Both could be wrong the same way: every element against a naive triple loop in double.
for w in native rpc; do
  if [ $w = native ]; then FUNK_ACCEL_PLUGINS=cpu "$TCLIENT" sgemm-dump >"$T/sgd-$w.txt" 2>"$T/sgd-$w.err"
  else rpc "$TCLIENT" sgemm-dump >"$T/sgd-$w.txt" 2>"$T/sgd-$w.err"; fi
  rc=$?
  out=$(python3 "$HERE/sgemm_ref.py" tclient "$T/sgd-$w.txt" 2>&1); prc=$?
  [ $rc = 0 ] && [ $prc = 0 ] && ok "sgemm $w == naive reference: $out" || bad "sgemm $w vs reference (rc=$rc): $out $(cat "$T/sgd-$w.err")"
done

# The CLI: each run must succeed, its stdout (only) must name what is in the photo, and then
# native and rpc must agree. Two identical failures are two failures, not "the same labels".
for cmd in classify detect; do
  n1=$FAILS
  run_ok "funk-accel $cmd (native)" "$T/cli-$cmd-native.txt" "$FUNK_ACCEL" --plugins cpu $cmd "$IMG"
  run_ok "funk-accel $cmd (rpc)" "$T/cli-$cmd-rpc.txt" env FUNK_ACCEL_RPC_ADDRESS=$ADDR "$FUNK_ACCEL" --plugins rpc $cmd "$IMG"
  for w in native rpc; do
    for want in dog bicycle car; do
      grep -q "^$want 0\.[0-9]" "$T/cli-$cmd-$w.txt" || bad "funk-accel $cmd ($w): no '$want' in: $(head -c 300 "$T/cli-$cmd-$w.txt")"
    done
  done
  if [ "$FAILS" = "$n1" ] && cmp -s "$T/cli-$cmd-native.txt" "$T/cli-$cmd-rpc.txt"; then
    ok "funk-accel $cmd: exit 0 both ways, dog+bicycle+car found, same output natively and with --plugins rpc"
  elif [ "$FAILS" = "$n1" ]; then
    bad "funk-accel $cmd differs"; diff "$T/cli-$cmd-native.txt" "$T/cli-$cmd-rpc.txt"
  fi
done

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
rm -f "$FUNK_TLIB_SLEEPING"
for _ in $(seq 200); do [ -e "$FUNK_TLIB_SLEEPING" ] && break; sleep 0.05; done
[ -e "$FUNK_TLIB_SLEEPING" ] && ok "holding client is inside a 3 s call on the agent" || bad "the long call never started: $(cat "$T/hold.txt")"
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
started=1
for _ in 1 2 3 4 5; do
  ADDR=tcp://127.0.0.1:$(free_port)
  start_agent "$ADDR" cpu:exec "$T/agent-tcp.log"; started=$?
  [ $started = 2 ] || break # 2: the port was taken meanwhile: another one
done
if [ $started = 0 ]; then
  A2=$AGENT_PID
  rpc "$TCLIENT" classify "$IMG" >"$T/tcp.txt" 2>&1
  cmp -s "$T/native.txt" "$T/tcp.txt" && ok "classify over tcp://127.0.0.1 == native" || bad "tcp classify: $(cat "$T/tcp.txt")"
  stop_agent $A2
else
  bad "agent on $ADDR did not start"
fi
ADDR=unix://$SOCK

# ---- 6. vsock: tests/transport/vsock.sh (its own test, so that a host without it skips loudly)

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
[ $rc = 64 ] && grep -q "port must be" "$T/a.err" && ok "agent: bad address -> exit 64 (EX_USAGE) with reason" || bad "agent bad address rc=$rc $(cat "$T/a.err")"
"$AGENT" --max-frame 12 2>"$T/a.err"; rc=$?
[ $rc = 64 ] && ok "agent: bad --max-frame -> exit 64" || bad "agent bad max-frame rc=$rc"
"$AGENT" --listen "unix://$T/x.sock" --plugins rpc 2>"$T/a.err"; rc=$?
[ $rc = 64 ] && grep -q "refusing to load the rpc plugin" "$T/a.err" && ok "agent refuses to serve through rpc" || bad "agent with rpc rc=$rc"

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
