#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# funk-watchdog driven with curl: streaming, serializing and http modes, a unikernel per request
# (fprocess="funk-monitor echo.elf"), Http_* environment, exec timeout (504), a spinning unikernel
# stopped by it, overload (429), read/write timeouts against stalling clients and upstreams,
# upstream down (502), health/ready with the lock file, SIGTERM, bad configuration; keep-alive
# on both sides (several requests on one client connection, one upstream connection reused,
# Connection: close, HTTP/1.0, chunked bodies, a stale upstream connection retried or failed).
set -u
. "$(dirname "$0")/lib.sh"
need_bin "$WATCHDOG" "$MONITOR" "$ECHO" "$LOOP"
need_cmd curl python3
T=$(mktemp -d /tmp/funk-oci-wd.XXXXXX)
# The watchdog listens on a port the kernel picks (port=0) and names it in its start-up line: no
# port chosen here can be taken by someone else in between.
WPID= PORT= U= NSTART=0
stop_wd() { [ -n "$WPID" ] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null; WPID=; }
trap 'stop_wd; rm -rf "$T"' EXIT

# start_wd ENV=VALUE...: a watchdog on a fresh port; waits until it says where it listens
start_wd() {
    stop_wd
    NSTART=$((NSTART + 1))
    WLOG=$T/wd.$NSTART.log
    env TMPDIR="$T" port=0 "$@" "$WATCHDOG" 2>"$WLOG" &
    WPID=$!
    PORT=
    for _ in $(seq 400); do
        PORT=$(sed -n 's/^funk-watchdog: listening on :\([0-9]*\),.*/\1/p' "$WLOG")
        [ -n "$PORT" ] && break
        kill -0 "$WPID" 2>/dev/null || break
        sleep 0.05
    done
    U="http://127.0.0.1:$PORT"
    [ -n "$PORT" ] || fail "watchdog did not start ($*): $(tail -3 "$WLOG")"
}
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
start_wd mode=serializing fprocess="sleep 4" max_inflight=1 exec_timeout=10s
curl -s -o /dev/null -d x "$U/" &
busy=$!
# wait for the event (the first request holds the only slot: ready says 429), not for a time
for _ in $(seq 200); do [ "$(code "$U/_/ready")" = 429 ] && break; sleep 0.02; done
check "second request over max_inflight: 429" 429 "$(code -d x "$U/")"
contains "429 message" "Concurrent request limit exceeded. Max concurrent requests: 1" "$(curl -s -d x "$U/")"
check "ready at max_inflight: 429" 429 "$(code "$U/_/ready")"
check "health stays 200 when busy" 200 "$(code "$U/_/health")"
wait $busy

PEERS=$(dirname "$0")/wd_peers.py
# lt A B: A < B for decimal seconds
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# no_children: waits (bounded) until the watchdog has no child process left
no_children() { for _ in $(seq 250); do [ -z "$(pgrep -P "$WPID")" ] && return 0; sleep 0.02; done; return 1; }

# ---- a spinning unikernel: exec_timeout stops it, the client gets 504 ----
for mode in serializing streaming; do
    start_wd mode=$mode fprocess="$MONITOR $LOOP" exec_timeout=1s
    res=$(curl -s -o "$T/spin.body" -w '%{http_code} %{time_total}' --max-time 20 -d x "$U/")
    check "spinning unikernel ($mode): 504" 504 "${res% *}"
    check "spinning unikernel ($mode): the documented message" "Function timed out after 1.000s" "$(cat "$T/spin.body")"
    lt "${res#* }" 4 && ok "spinning unikernel ($mode): answered after ${res#* } s" || fail "spinning unikernel ($mode): took ${res#* } s"
    no_children && ok "spinning unikernel ($mode): the monitor is gone" || fail "spinning unikernel ($mode): still running: $(pgrep -a -P "$WPID")"
    contains "spinning unikernel ($mode): logged" "exec timeout" "$(cat "$WLOG")"
done

# ---- read_timeout: clients that stall (before the end of the head, in the body) or trickle
# a byte at a time (each read is quick; the request as a whole must still end in time) ----
start_wd mode=serializing fprocess="cat" read_timeout=1s
for how in stall stall-body trickle; do
    res=$(python3 "$PEERS" "$how" "$PORT" 8)
    check "read_timeout: a client that does '$how' gets 408" 408 "${res% *}"
    lt "${res#* }" 4 && ok "read_timeout ($how): after ${res#* } s" || fail "read_timeout ($how): took ${res#* } s"
done
check "read_timeout: the watchdog still serves" "still here" "$(curl -s -d 'still here' "$U/")"

# ---- write_timeout: a client that never reads its answer frees its slot (max_inflight=1) and
# its process, long before exec_timeout ----
for mode in streaming serializing; do
    fp="cat /dev/zero"
    [ $mode = serializing ] && fp="head -c 30000000 /dev/zero"
    start_wd mode=$mode fprocess="$fp" write_timeout=1s exec_timeout=60s max_inflight=1
    rm -f "$T/noread.ready"
    python3 "$PEERS" no-read "$PORT" 30 "$T/noread.ready" &
    nr=$!
    for _ in $(seq 250); do [ -e "$T/noread.ready" ] && break; sleep 0.02; done
    t0=$(date +%s%N)
    for _ in $(seq 200); do [ "$(code "$U/_/ready")" = 429 ] && break; sleep 0.02; done
    check "write_timeout ($mode): the stalled client holds the slot" 429 "$(code "$U/_/ready")"
    for _ in $(seq 700); do [ "$(code "$U/_/ready")" = 200 ] && break; sleep 0.02; done
    ms=$((($(date +%s%N) - t0) / 1000000))
    check "write_timeout ($mode): the slot is free again" 200 "$(code "$U/_/ready")"
    [ "$ms" -lt 15000 ] && ok "write_timeout ($mode): freed after ${ms} ms (exec_timeout is 60 s)" || fail "write_timeout ($mode): took ${ms} ms"
    no_children && ok "write_timeout ($mode): the process is gone" || fail "write_timeout ($mode): still running: $(pgrep -a -P "$WPID")"
    kill $nr 2>/dev/null
    wait $nr 2>/dev/null
done

# ---- an upstream that stalls: never reads the request, or sends half an answer ----
for how in noread headers; do
    rm -f "$T/stall.port"
    python3 "$PEERS" upstream "$T/stall.port" $how &
    sp=$!
    for _ in $(seq 250); do [ -e "$T/stall.port" ] && break; sleep 0.02; done
    start_wd mode=http fprocess="sleep 600" upstream_url="http://127.0.0.1:$(cat "$T/stall.port")" exec_timeout=1s
    [ $how = noread ] && head -c 30000000 /dev/zero >"$T/up.body" || echo x >"$T/up.body"
    res=$(curl -s -o "$T/stall.body" -w '%{http_code} %{time_total}' --max-time 20 --data-binary @"$T/up.body" "$U/")
    check "upstream that stalls ($how): 504" 504 "${res% *}"
    lt "${res#* }" 4 && ok "upstream that stalls ($how): answered after ${res#* } s" || fail "upstream that stalls ($how): took ${res#* } s"
    kill $sp
    wait $sp 2>/dev/null
done
rm -f "$T/up.body"

# ---- http mode: one long-running upstream, proxied ----
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
# The upstream's port must be in upstream_url before it starts: take a free one from the kernel
# and, when someone else binds it first (EADDRINUSE in the upstream's log), retry with another.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
up_state() { # up | inuse | down | starting
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $UPORT), timeout=1)" 2>/dev/null && { echo up; return; }
    grep -q "Address already in use" "$WLOG" && { echo inuse; return; }
    [ -n "$(pgrep -P "$WPID")" ] && echo starting || echo down
}
for attempt in 1 2 3 4 5; do
    UPORT=$(free_port)
    start_wd mode=http fprocess="python3 $T/up.py $UPORT" upstream_url="http://127.0.0.1:$UPORT" exec_timeout=1s
    for _ in $(seq 400); do st=$(up_state); [ "$st" = starting ] || break; sleep 0.05; done
    [ "$st" = inuse ] && { echo "note: upstream port $UPORT taken meanwhile (attempt $attempt), another one"; continue; }
    break
done
check "http: the upstream listens" up "$st"
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
for _ in $(seq 200); do [ "$(up_state)" != up ] && break; sleep 0.02; done
check "http: upstream down: 502" 502 "$(code -d x "$U/x")"

# ---- keep-alive, client side: several requests over one connection (wd_peers.py session sends
# them all on one socket: an answer on it proves the watchdog kept that connection) ----
start_wd mode=serializing fprocess="cat"
out=$(python3 "$PEERS" session "$PORT" "POST / one" "POST / two" "CHUNKED / ab,cd,ef" "GET /_/health" "POST / three")
check "keep-alive (serializing): five answers on one connection, chunked body too" "200 keep-alive one
200 keep-alive two
200 keep-alive abcdef
200 keep-alive OK
200 keep-alive three
open" "$out"
out=$(python3 "$PEERS" session "$PORT" "POST / one" "CLOSE / two" "POST / three")
check "keep-alive: Connection: close honoured" "200 keep-alive one
200 close two
CLOSED" "$out"
out=$(python3 "$PEERS" session "$PORT" "HTTP10 / old" "POST / more")
check "keep-alive: an HTTP/1.0 request without keep-alive closes" "200 close old
CLOSED" "$out"
start_wd fprocess="cat"
out=$(python3 "$PEERS" session "$PORT" "POST / s1" "CHUNKED / s,2" "HTTP10 / s3")
check "keep-alive (streaming): chunked answers on one connection; HTTP/1.0 gets a close-delimited one" "200 keep-alive s1
200 keep-alive s2
200 close s3
closed" "$out"
start_wd fprocess="cat" idle_timeout=300ms
# two answers on one connection, then the watchdog closes it once it idled 300 ms
python3 - "$PORT" <<'EOP'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
for body in (b"a", b"b"):
    s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n" + body)
    if not f.readline().startswith(b"HTTP/1.1 200"):
        sys.exit("no 200 for " + body.decode())
    while f.readline() not in (b"\r\n", b""):
        pass
    size = int(f.readline(), 16)
    got = f.read(size)
    f.readline(); f.readline(); f.readline()  # CRLF, "0", CRLF
    if got != body:
        sys.exit("got %r" % got)
t0 = time.monotonic()
eof = f.read(1) == b""
took = time.monotonic() - t0
sys.exit(0 if eof and 0.2 < took < 5 else "eof %s after %.2f s" % (eof, took))
EOP
check "keep-alive: two answers, then closed after idle_timeout" 0 $?

# ---- keep-alive, upstream side: an upstream that keeps its connections open gets every
# request over one of them (it numbers its connections: conn=K req=I) ----
rm -f "$T/ka.port"
python3 "$PEERS" keepalive-upstream "$T/ka.port" &
kp=$!
for _ in $(seq 250); do [ -e "$T/ka.port" ] && break; sleep 0.02; done
start_wd mode=http fprocess="sleep 600" upstream_url="http://127.0.0.1:$(cat "$T/ka.port")" exec_timeout=1s upstream_idle_timeout=60s
reqs=() want=
for i in $(seq 20); do reqs+=("POST /echo r$i"); want="$want
200 keep-alive conn=1 req=$i body=r$i"; done
out=$(python3 "$PEERS" session "$PORT" "${reqs[@]}" "CHUNKED /echo c,d" "GET /chunked" "GET /_/health")
check "http keep-alive: 20 requests, no 504, one upstream connection reused; chunked both ways" "${want#?}
200 keep-alive conn=1 req=21 body=cd
200 keep-alive conn=1 req=22 body=
200 keep-alive OK
open" "$out"
check "http keep-alive: a new client connection reuses the pooled upstream one" "conn=1 req=23 body=f" "$(curl -s -d f "$U/echo")"
# the upstream drops its kept connection on the next request: a GET is sent again on a new one,
# a POST (it may have been done) answers 502; both clients keep their connection
out=$(python3 "$PEERS" session "$PORT" "GET /flaky" "POST /flaky2 x" "POST /echo y")
check "http: a kept upstream connection closed under a GET: retried on a new one" "200 keep-alive conn=2 req=1 body=" "$(sed -n 1p <<<"$out")"
check "http: closed under a POST: 502, not sent twice" "502 keep-alive Upstream error: no valid HTTP response" "$(sed -n 2p <<<"$out")"
contains "http: the client connection goes on after the 502" "200 keep-alive conn=" "$(sed -n 4p <<<"$out")"
out=$(python3 "$PEERS" session "$PORT" "POST /slow x" "POST /echo z")
check "http: a slow upstream: 504 on a kept client connection" "504 keep-alive Function timed out" "$(sed -n 1p <<<"$out")"
contains "http: after the 504 the connection serves on" "200 keep-alive conn=" "$(sed -n 3p <<<"$out")"
kill $kp
wait $kp 2>/dev/null

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
check "no fprocess: exit 64 (configuration error)" 64 $?
contains "no fprocess: message" "set fprocess" "$out"
out=$(fprocess=cat mode=bogus port=$PORT "$WATCHDOG" 2>&1)
check "bad mode: exit 64 (configuration error)" 64 $?
contains "bad mode: message" "mode='bogus'" "$out"
out=$(fprocess=cat exec_timeout=soon port=$PORT "$WATCHDOG" 2>&1)
check "bad duration: exit 64 (configuration error)" 64 $?
contains "bad duration: message" "exec_timeout='soon'" "$out"
out=$(fprocess=cat max_inflight=-3 port=$PORT "$WATCHDOG" 2>&1)
check "bad max_inflight: exit 64 (configuration error)" 64 $?
out=$(fprocess="   " port=$PORT "$WATCHDOG" 2>&1)
check "blank fprocess: exit 64 (configuration error)" 64 $?
contains "blank fprocess: message" "names no command" "$out"
out=$(fprocess=cat exec_timeout=nan port=$PORT "$WATCHDOG" 2>&1)
check "exec_timeout=nan: exit 64 (configuration error)" 64 $?
out=$(fprocess=cat read_timeout=inf port=$PORT "$WATCHDOG" 2>&1)
check "read_timeout=inf: exit 64 (configuration error)" 64 $?
finish
