#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One-off measurement behind docs/gateway.md's HTTP library choice: the same echo server on
# libmicrohttpd (thread per connection, as funkd; and epoll + 2-thread pool) and on libh2o's
# evloop, latency with funk-bench-http and throughput with wrk, in one run.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=${FUNK_PREFIX:-$(cd ../.. && pwd)/build}
CLIENT=$PREFIX/lib/funk/bench/funk-bench-http
SECS=${SECS:-5}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
pkg-config --exists libh2o-evloop || { echo "SKIP: httplib: libh2o-evloop-dev not installed"; exit 77; }
command -v wrk >/dev/null || { echo "SKIP: httplib: wrk not installed"; exit 77; }
cc -O2 -o "$TMP/h2o_echo" httplib/h2o_echo.c $(pkg-config --cflags --libs libh2o-evloop)
cc -O2 -o "$TMP/mhd_echo" httplib/mhd_echo.c $(pkg-config --cflags --libs libmicrohttpd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
printf "%-34s %9s %9s %9s %6s %10s %7s\n" server "min us" "med us" "p99 us" errors "wrk req/s" errors
bad=0
run() { # name cmd... (the port is appended as the first argument after cmd's path)
  local name=$1 bin=$2 port pid up=0; shift 2
  for _ in 1 2 3 4 5; do # a free port from the kernel; another one if the server cannot bind it
    port=$(free_port)
    "$bin" "$port" "$@" & pid=$!
    for _ in $(seq 100); do
      curl -fs "http://127.0.0.1:$port/" >/dev/null && { up=1; break; }
      kill -0 $pid 2>/dev/null || break
      sleep 0.05
    done
    [ $up = 1 ] && break
    kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  done
  [ $up = 1 ] || { echo "httplib: $name did not start"; exit 1; }
  local mn md p99 n err out rps werr
  read -r mn md p99 n err < <("$CLIENT" 127.0.0.1 "$port" / 2000 64 100 || true)
  out=$(wrk -t2 -c8 -d"${SECS}s" "http://127.0.0.1:$port/")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  werr=$(awk '/Non-2xx/ {n += $5} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
  printf "%-34s %9s %9s %9s %6s %10s %7s\n" "$name" "$mn" "$md" "$p99" "$err" "$rps" "$werr"
  [ "$err" = 0 ] && [ "$werr" = 0 ] || bad=1
  kill $pid; wait $pid 2>/dev/null || true
}
run "libmicrohttpd thread/connection" "$TMP/mhd_echo" thread
run "libmicrohttpd epoll, 2-thread pool" "$TMP/mhd_echo" pool
run "libh2o evloop, 1 thread" "$TMP/h2o_echo"
[ $bad = 0 ] || { echo "httplib: failed requests (left out of the latencies above)"; exit 1; }
