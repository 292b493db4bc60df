#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One-off measurement behind docs/gateway.md's HTTP library choice: the same echo server on
# libmicrohttpd (thread per connection, as funkd; and epoll + 2-thread pool) and on libh2o's
# evloop, latency with funk-bench-http and throughput with wrk, in one run.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=${FUNK_PREFIX:-$(cd ../.. && pwd)/build/release}
CLIENT=$PREFIX/bin/funk-bench-http
SECS=${SECS:-5}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
pkg-config --exists libh2o-evloop || { echo "httplib: libh2o-evloop-dev not installed"; exit 0; }
cc -O2 -o "$TMP/h2o_echo" httplib/h2o_echo.c $(pkg-config --cflags --libs libh2o-evloop)
cc -O2 -o "$TMP/mhd_echo" httplib/mhd_echo.c $(pkg-config --cflags --libs libmicrohttpd)
printf "%-34s %9s %9s %9s %10s\n" server "min us" "med us" "p99 us" "wrk req/s"
run() { # name port cmd...
  local name=$1 port=$2; shift 2
  "$@" & local pid=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.05; done
  read -r mn md p99 n err < <("$CLIENT" 127.0.0.1 "$port" / 2000 64 100)
  rps=$(wrk -t2 -c8 -d"${SECS}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
  printf "%-34s %9s %9s %9s %10s\n" "$name" "$mn" "$md" "$p99" "$rps"
  kill $pid; wait $pid 2>/dev/null || true
}
run "libmicrohttpd thread/connection" 18191 "$TMP/mhd_echo" 18191 thread
run "libmicrohttpd epoll, 2-thread pool" 18192 "$TMP/mhd_echo" 18192 pool
run "libh2o evloop, 1 thread" 18193 "$TMP/h2o_echo" 18193
