#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# funk-watchdog driven with curl: streaming, serializing and http modes, a unikernel per request
# (fprocess="funk-monitor echo.elf"), Http_* environment, exec timeout (504), overload (429),
# upstream down (502), health/ready with the lock file, SIGTERM, bad configuration.
set -u
. "$(dirname "$0")/lib.sh"
need_bin "$WATCHDOG" "$MONITOR" "$ECHO"
need_cmd curl python3
T=$(mktemp -d /tmp/funk-oci-wd.XXXXXX)
# Ports the kernel says are free now (a fixed pid-derived port could collide with other tests).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
WPID=
stop_wd() { [ -n "$WPID" ] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null; WPID=; }
trap 'stop_wd; rm -rf "$T"' EXIT

# start_wd ENV=VALUE...: a watchdog on $PORT, waits until it answers
start_wd() {
    stop_wd
    env TMPDIR="$T" port="$PORT" "$@" "$WATCHDOG" 2>>"$T/wd.log" &
    WPID=$!
    for _ in $(seq 400); do curl -s -o /dev/null "http://127.0.0.1:$PORT/_/health" && return 0; sleep 0.05; done
    fail "watchdog did not start ($*): $(tail -3 "$T/wd.log")"
}
U="http://127.0.0.1:$PORT"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# ---- streaming (default mode) ----
start_wd fprocess="cat"
check "streaming: cat echoes the body" "stream me" "$(curl -s -d 'stream me' "$U/")"
head -c 3000000 /dev/urandom >"$T/big.bin"
curl -s -H 'Expect: 100-continue' --data-binary @"$T/big.bin" -o "$T/big.out" "$U/"
cmp -s "$T/big.bin" "$T/big.out"
check "streaming: a 3 MB body (Expect: 100-continue) comes back intact" 0 $?
check "health with the lock file" 200 "$(code "$U/_/health")"
check "ready" 200 "$(code "$U/_/ready")"
rm -f "$T/.lock"
check "health without the lock file: 503" 503 "$(code "$U/_/health")"
touch "$T/.lock"
start_wd fprocess="false"
check "streaming: a process failing before any output: 500" 500 "$(code -d x "$U/")"
start_wd fprocess="sleep 5" exec_timeout=1s
t0=$(date +%s%N)
check "streaming: exec_timeout: 504" 504 "$(code -d x "$U/")"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 4000 ] && ok "timeout ended the process early (${ms} ms)" || fail "timeout took ${ms} ms"
start_wd fprocess="/nonexistent/fn"
check "streaming: fprocess that cannot start: 500" 500 "$(code -d x "$U/")"

# ---- a unikernel per request ----
start_wd fprocess="$MONITOR $ECHO"
check "streaming: funk-monitor echo.elf answers" "hello unikernel" "$(curl -s -d 'hello unikernel' "$U/")"
start_wd mode=serializing fprocess="$MONITOR $ECHO"
hdrs=$(curl -s -D - -o "$T/body" -d 'serialized unikernel' "$U/fn?x=1")
check "serializing: funk-monitor echo.elf answers" "serialized unikernel" "$(cat "$T/body")"
contains "serializing: 200" "HTTP/1.1 200" "$hdrs"
contains "serializing: X-Duration-Seconds" "X-Duration-Seconds:" "$hdrs"
for i in 1 2 3 4 5; do out=$(curl -s -d "req $i" "$U/"); [ "$out" = "req $i" ] || fail "request $i: '$out'"; done
ok "five requests, five unikernels"

# ---- serializing: Http_* environment, errors ----
start_wd mode=serializing fprocess="env"
envout=$(curl -s -H 'X-Custom-Header: yes' -d x "$U/some/path?a=1&b=2")
contains "Http_Method" "Http_Method=POST" "$envout"
contains "Http_Path" "Http_Path=/some/path" "$envout"
contains "Http_Query" "Http_Query=a=1&b=2" "$envout"
contains "Http_<Header> in canonical case" "Http_X_Custom_Header=yes" "$envout"
start_wd mode=serializing fprocess="false"
check "serializing: non-zero exit: 500" 500 "$(code -d x "$U/")"
contains "serializing: 500 says the exit status" "exit status 1" "$(curl -s -d x "$U/")"
start_wd mode=serializing fprocess="sleep 5" exec_timeout=1
check "serializing: exec_timeout (bare seconds): 504" 504 "$(code -d x "$U/")"

# ---- overload: max_inflight ----
start_wd mode=serializing fprocess="sleep 2" max_inflight=1 exec_timeout=10s
curl -s -o /dev/null -d x "$U/" &
busy=$!
sleep 0.5
check "second request over max_inflight: 429" 429 "$(code -d x "$U/")"
contains "429 message" "Concurrent request limit exceeded. Max concurrent requests: 1" "$(curl -s -d x "$U/")"
check "ready at max_inflight: 429" 429 "$(code "$U/_/ready")"
check "health stays 200 when busy" 200 "$(code "$U/_/health")"
wait $busy

# ---- http mode: one long-running upstream, proxied ----
UPORT=$(free_port)
cat >"$T/up.py" <<'EOP'
import http.server, os, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); body = self.rfile.read(n)
        if self.path.startswith("/slow"): time.sleep(3)
        if self.path.startswith("/lf"):  # bare-LF header lines grow by one byte when relayed
            self.wfile.write(b"HTTP/1.1 200 OK\n" + b"a:b\n" * 2000 + b"X-Up: lf\r\n\r\nok"); return
        out = b"upstream:" + body
        self.send_response(201); self.send_header("X-Up", "1"); self.send_header("Content-Length", str(len(out)))
        self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOP
start_wd mode=http fprocess="python3 $T/up.py $UPORT" upstream_url="http://127.0.0.1:$UPORT" exec_timeout=1s
for _ in $(seq 400); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $UPORT))" 2>/dev/null && break; sleep 0.05; done
hdrs=$(curl -s -D - -o "$T/body" -d 'proxied' "$U/x")
check "http: upstream body" "upstream:proxied" "$(cat "$T/body")"
contains "http: upstream status relayed" "HTTP/1.1 201" "$hdrs"
contains "http: upstream header relayed" "X-Up: 1" "$hdrs"
contains "http: X-Duration-Seconds" "X-Duration-Seconds" "$hdrs"
hdrs=$(curl -s -D - -o "$T/body" -d x "$U/lf")
check "http: 2000 bare-LF upstream headers relayed" "ok" "$(cat "$T/body")"
contains "http: last bare-LF header relayed" "X-Up: lf" "$hdrs"
check "http: upstream over exec_timeout: 504" 504 "$(code -d x "$U/slow")"
for up in $(pgrep -P "$WPID"); do kill "$up"; done # the watchdog's upstream child, by pid
sleep 0.3
check "http: upstream down: 502" 502 "$(code -d x "$U/x")"

# ---- SIGTERM: lock file removed, process exits ----
start_wd fprocess="cat"
kill -TERM "$WPID"
wait "$WPID"
check "SIGTERM: clean exit" 0 $?
WPID=
[ -e "$T/.lock" ] && fail "lock file left after SIGTERM" || ok "SIGTERM removed the lock file"

# ---- bad requests and configuration ----
start_wd fprocess="cat"
resp=$(python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $PORT)); s.sendall(b'garbage\r\n\r\n'); print(s.recv(100).decode().splitlines()[0])")
check "malformed request: 400" "HTTP/1.1 400 Bad Request" "$resp"
check "bad Content-Length: 400" "HTTP/1.1 400 Bad Request" "$(python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $PORT)); s.sendall(b'POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n'); print(s.recv(100).decode().splitlines()[0])")"
stop_wd
out=$(env -u fprocess -u function_process port=$PORT "$WATCHDOG" 2>&1)
check "no fprocess: exit 2" 2 $?
contains "no fprocess: message" "set fprocess" "$out"
out=$(fprocess=cat mode=bogus port=$PORT "$WATCHDOG" 2>&1)
check "bad mode: exit 2" 2 $?
contains "bad mode: message" "mode='bogus'" "$out"
out=$(fprocess=cat exec_timeout=soon port=$PORT "$WATCHDOG" 2>&1)
check "bad duration: exit 2" 2 $?
contains "bad duration: message" "exec_timeout='soon'" "$out"
out=$(fprocess=cat max_inflight=-3 port=$PORT "$WATCHDOG" 2>&1)
check "bad max_inflight: exit 2" 2 $?
out=$(fprocess="   " port=$PORT "$WATCHDOG" 2>&1)
check "blank fprocess: exit 2" 2 $?
contains "blank fprocess: message" "names no command" "$out"
out=$(fprocess=cat exec_timeout=nan port=$PORT "$WATCHDOG" 2>&1)
check "exec_timeout=nan: exit 2" 2 $?
out=$(fprocess=cat read_timeout=inf port=$PORT "$WATCHDOG" 2>&1)
check "read_timeout=inf: exit 2" 2 $?
finish
