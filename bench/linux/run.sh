#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/linux: unmodified static programs as stdio functions (issue 13): busybox `wc -w` over a
# 20 KB stdin through funk-monitor --linux and through funkd (a personality guest per request),
# each beside native fork+exec of the same binary (posix_spawn from C; over HTTP, funk-watchdog
# forking it per request as OpenFaaS's classic watchdog does), interleaved in rounds, N / min / median / p99 / errors, ratio.
# BENCH_BEFORE=PREFIX adds the same rows for another installed build (e.g. before a change), in
# the same rounds. Short run: N=100 ROUNDS=4 bench/linux/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
FUNK_PREFIX=${FUNK_PREFIX:-$PWD/build}
FUNK_MESON_DIR=${FUNK_MESON_DIR:-$FUNK_PREFIX/meson}
BIN=$FUNK_MESON_DIR/bench/monitor/funk-bench-monitor
BB=/bin/busybox
[ -x "$BB" ] && file -L "$BB" | grep -q "statically linked" ||
    { echo "SKIP: bench/linux: $BB is not busybox-static"; exit 77; }
for f in "$BIN" "$FUNK_PREFIX/bin/funk-monitor" "$FUNK_PREFIX/bin/funkd"; do
    [ -x "$f" ] || { echo "bench/linux: $f missing (make builds it)" >&2; exit 1; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
seq 1 2000 | sed 's/$/ lorem ipsum/' >"$T/words"
N=${N:-500}
BEFORE=${BENCH_BEFORE:-}

echo "Linux guests, busybox wc -w over 20 KB of stdin"
echo
echo "funk-monitor --linux (a fresh monitor process per run) vs posix_spawn of busybox, interleaved, N=$N"
cases=(-- monitor 1 "$FUNK_PREFIX/bin/funk-monitor" --isolation=process --linux $BB wc -w)
[ -n "$BEFORE" ] && cases+=(-- monitor-before 1 "$BEFORE/bin/funk-monitor" --isolation=process --linux $BB wc -w)
cases+=(-- native 1 $BB wc -w)
BENCH_STDIN=$T/words "$BIN" interleave "$N" "${cases[@]}" >"$T/cli"

exec python3 - "$FUNK_PREFIX" "$BEFORE" "$T" "$N" <<'PY'
import http.client, json, os, socket, statistics, subprocess, sys, time

prefix, before, tmp, N = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ROUNDS = int(os.environ.get("ROUNDS", "10"))
BB = "/bin/busybox"
words = open(os.path.join(tmp, "words"), "rb").read()
rows = {}
for line in open(os.path.join(tmp, "cli")):
    f = line.split()
    rows[f[0]] = (int(f[1]), float(f[2]) / 1e3, float(f[3]) / 1e3, float(f[4]) / 1e3, int(f[5]))


def show(title, order, base):
    print("%-54s %6s %8s %8s %8s %6s %7s" % (title, "N", "min ms", "p50 ms", "p99 ms", "errors", "x base"))
    for k, label in order:
        if k not in rows:
            continue
        n, mn, md, p, err = rows[k]
        print("%-54s %6d %8.3f %8.3f %8.3f %6d %6.2fx" % (label, n, mn, md, p, err, md / rows[base][2]))


show("case", [("monitor", "funk-monitor --linux busybox wc -w"),
              ("monitor-before", "  the same, BENCH_BEFORE build"),
              ("native", "posix_spawn busybox wc -w (native)")], "native")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Funkd:
    def __init__(self, pfx, tag):
        self.log = open(os.path.join(tmp, "funkd-%s.log" % tag), "ab")
        for _ in range(5):
            self.port = free_port()
            self.p = subprocess.Popen([os.path.join(pfx, "bin", "funkd"), "--listen", "127.0.0.1:%d" % self.port,
                                       "--state-dir", os.path.join(tmp, "state-" + tag), "--log-level", "warn",
                                       "--pool", "8"], stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.time() + 20
            while time.time() < deadline and self.p.poll() is None:
                try:
                    if self.req("GET", "/healthz")[0] == 200:
                        return
                except OSError:
                    time.sleep(0.05)
            if self.p.poll() is None:
                self.p.kill()
        sys.exit("bench/linux: funkd (%s) did not come up" % pfx)

    def req(self, method, path, body=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path, body=body)
        r = c.getresponse()
        data = r.read()
        if not conn:
            c.close()
        return r.status, data

    def deploy(self, spec):
        st, b = self.req("POST", "/system/functions", json.dumps(spec).encode())
        if st not in (200, 202):
            sys.exit("bench/linux: deploy %s: %d %s" % (spec["service"], st, b[:300]))

    def stop(self):
        self.p.terminate()
        self.p.wait(30)


servers = {"": Funkd(prefix, "this")}
if before:
    servers["-before"] = Funkd(before, "before")
cases = []
for tag, s in servers.items():
    s.deploy({"service": "wc", "image": BB, "envProcess": "wc", "labels": {"com.funk.io": "stdio"}})
    cases.append(("funkd-stdio" + tag, s, "/function/wc"))


class Watchdog(Funkd):
    """funk-watchdog forking busybox per request: OpenFaaS's classic way, natively"""
    def __init__(self):
        self.log = open(os.path.join(tmp, "watchdog.log"), "ab")
        for _ in range(5):
            self.port = free_port()
            env = dict(os.environ, fprocess=BB + " wc", mode="serializing", port=str(self.port))
            self.p = subprocess.Popen([os.path.join(prefix, "bin", "funk-watchdog")], env=env,
                                      stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.time() + 20
            while time.time() < deadline and self.p.poll() is None:
                try:
                    if self.req("GET", "/_/health")[0] == 200:
                        return
                except OSError:
                    time.sleep(0.05)
            if self.p.poll() is None:
                self.p.kill()
        sys.exit("bench/linux: funk-watchdog did not come up")


servers["wd"] = Watchdog()
cases.append(("watchdog-native", servers["wd"], "/"))
want = subprocess.run([BB, "wc"], input=words, capture_output=True).stdout
lat = {k: [] for k, _, _ in cases}
errors = {k: 0 for k, _, _ in cases}
conns = {k: http.client.HTTPConnection("127.0.0.1", s.port, timeout=60) for k, s, _ in cases}
for k, s, path in cases:  # warm-up
    s.req("POST", path, words, conns[k])
per = max(1, N // ROUNDS)
for r in range(ROUNDS):
    for j in range(len(cases)):
        k, s, path = cases[(r + j) % len(cases)]
        for _ in range(per):
            t0 = time.perf_counter()
            try:
                st, body = s.req("POST", path, words, conns[k])
            except (OSError, http.client.HTTPException):
                conns[k] = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
                st, body = 0, b""
            dt = time.perf_counter() - t0
            if st == 200 and body == want:
                lat[k].append(dt * 1e3)
            else:
                if not errors[k]:
                    print("bench/linux: %s: status %d, body %r" % (k, st, body[:200]), file=sys.stderr)
                errors[k] += 1
for s in servers.values():
    s.stop()
for k in lat:
    v = sorted(lat[k]) or [0.0]
    rows[k] = (len(lat[k]), v[0], statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))], errors[k])
print()
print("through funkd (HTTP keep-alive, one request at a time), interleaved, %d rounds" % ROUNDS)
show("case", [("funkd-stdio", "funkd stdio function (a Linux guest per request)"),
              ("funkd-stdio-before", "  the same, BENCH_BEFORE build"),
              ("watchdog-native", "funk-watchdog forking busybox per request (native)")],
     "watchdog-native")
g, n = rows["monitor"][2], rows["native"][2]
print()
print("target %-58s %s (%.2fx)" % ("Linux guest wc -w within 1.5x native fork+exec (p50, CLI)",
                                   "MET" if g <= 1.5 * n else "NOT MET", g / n))
g, n = rows["funkd-stdio"][2], rows["watchdog-native"][2]
print("target %-58s %s (%.2fx)" % ("... funkd vs a watchdog's native fork+exec (p50, HTTP)",
                                   "MET" if g <= 1.5 * n else "NOT MET", g / n))
sys.exit(1 if any(errors.values()) or any(r[4] for r in rows.values()) else 0)
PY
