#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# URL resources: vaccel_resource_new(http://...) fetched by libvaccel from a local HTTP server
# started here, then run through exec_with_resource (the fetched bytes must be exactly the
# installed library's, or funk's exec allowlist refuses them); natively and through the agent.
# Refused: a body over FUNK_VACCEL_URL_MAX_BYTES, a server slower than FUNK_VACCEL_URL_TIMEOUT_MS,
# a redirect loop, a redirect to ftp://, 404,
# an ftp:// URL.
set -uo pipefail
URLPROG=$1 TESTLIB=$2 ADAPTER=$3 AGENT=$4
T=$(mktemp -d /tmp/funk-vaccel-url.XXXXXX)
FAILS=0
SRV_PID= AGENT_PID=
cleanup() {
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
  [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
errno() { python3 -c "import errno; print(errno.$1)"; }

mkdir -p "$T/exec" "$T/www"
install -m 0755 "$ADAPTER" "$TESTLIB" "$T/exec/"
cp "$TESTLIB" "$T/www/lib.so"
export FUNK_ACCEL_EXEC_DIR=$T/exec
export LD_LIBRARY_PATH=$(dirname "$ADAPTER")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unset FUNK_ACCEL_PLUGINS

python3 "$(dirname "$0")/url_server.py" "$T/www" >"$T/srv.out" 2>"$T/srv.log" &
SRV_PID=$!
for _ in $(seq 200); do # bounded wait for its "port N" line
  grep -q '^port ' "$T/srv.out" 2>/dev/null && break
  kill -0 "$SRV_PID" 2>/dev/null || break
  sleep 0.05
done
PORT=$(sed -n 's/^port //p' "$T/srv.out")
if [ -z "$PORT" ]; then
  echo "FAIL - the HTTP server did not start"; cat "$T/srv.log"; exit 1
fi
BASE=http://127.0.0.1:$PORT

# expect LABEL RC REGEX URL: the program's exit code and a stdout line
expect() {
  local label=$1 want_rc=$2 want=$3 url=$4
  "$URLPROG" "$url" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" = "$want_rc" ] && grep -Eq "$want" "$T/out"; then
    ok "$label: rc=$rc $(grep -E "$want" "$T/out" | head -1)"
  else
    bad "$label: rc=$rc (want $want_rc, /$want/)"; cat "$T/out" "$T/err" | head -10
  fi
}

suite() {
  local L=$1
  expect "$L http resource runs" 0 '^output: 20$' "$BASE/f/lib.so"
  grep -q '^resource path type: remote$' "$T/out" && ok "$L path type remote" \
    || bad "$L path type not remote"
  expect "$L one redirect followed" 0 '^output: 20$' "$BASE/hop?to=lib.so"
  FUNK_VACCEL_URL_MAX_BYTES=1048576 expect "$L body over the cap (no length sent)" \
    "$(errno EFBIG)" '^Could not create resource' "$BASE/big"
  FUNK_VACCEL_URL_MAX_BYTES=100 expect "$L Content-Length over the cap" \
    "$(errno EFBIG)" '^Could not create resource' "$BASE/f/lib.so"
  FUNK_VACCEL_URL_TIMEOUT_MS=300 expect "$L server slower than the time bound" \
    "$(errno ETIMEDOUT)" '^Could not create resource' "$BASE/slow"
  expect "$L redirect loop" "$(errno ELOOP)" '^Could not create resource' "$BASE/loop"
  expect "$L redirect to ftp" "$(errno ENOTSUP)" '^Could not create resource' "$BASE/ftp"
  expect "$L 404" "$(errno ENOENT)" '^Could not create resource' "$BASE/f/missing.so"
  expect "$L ftp URL" "$(errno ENOTSUP)" '^Could not create resource' "ftp://127.0.0.1:$PORT/x"
}

VACCEL_PLUGINS=cpu:libvaccel-exec.so suite native

ADDR=unix://$T/agent.sock
FUNK_ACCEL_LOG_LEVEL=info "$AGENT" --listen "$ADDR" --plugins exec 2>"$T/agent.log" &
AGENT_PID=$!
for _ in $(seq 200); do
  grep -q "listening on" "$T/agent.log" 2>/dev/null && break
  kill -0 "$AGENT_PID" 2>/dev/null || break
  sleep 0.05
done
if grep -q "listening on" "$T/agent.log"; then
  VACCEL_PLUGINS=libvaccel-rpc.so FUNK_ACCEL_RPC_ADDRESS=$ADDR suite rpc
else
  bad "agent did not start"; cat "$T/agent.log"
fi
[ "$FAILS" = 0 ] && echo "all url checks passed" || echo "$FAILS url check(s) failed"
[ "$FAILS" = 0 ]
