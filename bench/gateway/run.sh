#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# funkd benchmark: cold invocation over HTTP (fresh unikernel per request, echo: pre-booted to its
# first FN_RECV ahead of the call, booted on the call, restored from a snapshot), warm instances,
# and warm/cold throughput (wrk). The baseline is the same echo as a natively forked process per
# request behind the same funkd (com.funk.invoke=exec, of-watchdog's serializing mode equivalent),
# measured interleaved with every case (A B A B ..., ROUNDS rounds each) for the same time or
# request count. Failed requests (non-200, socket errors, timeouts) are counted, printed and left
# out of the latencies; any failure makes the run fail. Exit 77 when funkd cannot run a unikernel.
# Short run: N=100 ROUNDS=2 WRK_SECONDS=2 bench/gateway/run.sh
set -euo pipefail
PREFIX=${FUNK_PREFIX:-$(cd "$(dirname "$0")/../.." && pwd)/build}
BENCH_DIR=$(cd "$(dirname "$0")/.." && pwd) exec python3 - "$PREFIX" <<'PY'
import http.client, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.environ["BENCH_DIR"])
import wrkout  # noqa: E402  (bench/wrkout.py: wrk's summary)

prefix = sys.argv[1]
N = int(os.environ.get("N", "1000"))                  # requests per side per latency case
ROUNDS = int(os.environ.get("ROUNDS", "4"))           # A B A B ... rounds per case
WRK_SECONDS = int(os.environ.get("WRK_SECONDS", "10"))  # wrk seconds per side per case
WRK_ROUNDS = int(os.environ.get("WRK_ROUNDS", "2"))
WRK_CONN = int(os.environ.get("WRK_CONN", "8"))
FUNKD = os.path.join(prefix, "bin", "funkd")
CLIENT = os.path.join(prefix, "lib", "funk", "bench", "funk-bench-http")
ECHO = os.path.join(prefix, "unikernels", "echo.elf")
NATIVE = os.path.join(prefix, "bin", "funk-echo-native")
for f in (FUNKD, CLIENT, ECHO, NATIVE):
    if not os.path.exists(f):
        print("bench/gateway: missing %s (build and install first)" % f)
        sys.exit(1)
if N < ROUNDS or ROUNDS < 1 or WRK_ROUNDS < 1 or WRK_SECONDS < WRK_ROUNDS:
    print("bench/gateway: need N >= ROUNDS >= 1 and WRK_SECONDS >= WRK_ROUNDS >= 1")
    sys.exit(2)
try:
    os.close(os.open("/dev/kvm", os.O_RDWR))
    KVM = True
except OSError as e:
    KVM = False
    print("bench/gateway: /dev/kvm does not work here (%s): kvm-backend rows skipped" % e)

tmp = tempfile.TemporaryDirectory(prefix="funk-bench-gw-")
failures = []  # (what, count)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def req(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    try:
        c.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# funkd on a free port; started again on a fresh one when another process took it first
log = open(os.path.join(tmp.name, "funkd.log"), "ab")
for attempt in range(5):
    PORT = free_port()
    funkd = subprocess.Popen([FUNKD, "--listen", "127.0.0.1:%d" % PORT, "--state-dir", os.path.join(tmp.name, "state"),
                           "--log-level", "warn", "--pool", "8"], stdout=log, stderr=subprocess.STDOUT)
    up = False
    deadline = time.time() + 20
    while time.time() < deadline and funkd.poll() is None:
        try:
            if req("GET", "/healthz")[0] == 200:
                up = True
                break
        except OSError:
            time.sleep(0.05)
    if up:
        break
    text = open(log.name, errors="replace").read()
    if funkd.poll() is None or not re.search(r"in use|EADDRINUSE", text, re.I) or attempt == 4:
        print("bench/gateway: funkd did not come up:\n" + text[-2000:])
        if funkd.poll() is None:
            funkd.kill()
        sys.exit(1)


def stop():
    if funkd.poll() is None:
        funkd.terminate()
        try:
            funkd.wait(30)
        except subprocess.TimeoutExpired:
            funkd.kill()


def deploy(name, image, labels, required=True):
    st, b = req("POST", "/system/functions", {"service": name, "image": image, "labels": labels})
    if st not in (200, 202):
        if required:
            print("bench/gateway: deploy %s failed: %d %s" % (name, st, b.decode(errors="replace").strip()))
            stop()
            sys.exit(1)
        return b.decode(errors="replace").strip()
    return None


try:
    deploy("native", NATIVE, {"com.funk.invoke": "exec"})
    why = deploy("cold-proc", ECHO, {"com.funk.isolation": "process"}, required=False)
    if why and not KVM:
        print("SKIP: funkd cannot run a unikernel here (process backend: %s; no /dev/kvm)" % why)
        stop()
        sys.exit(77)
    elif why:
        print("bench/gateway: deploy cold-proc failed: %s" % why)
        stop()
        sys.exit(1)
    deploy("boot-proc", ECHO, {"com.funk.isolation": "process", "com.funk.preboot": "0"})
    deploy("snap-proc", ECHO, {"com.funk.isolation": "process", "com.funk.mode": "snapshot"})
    warm = {"com.funk.mode": "warm", "com.openfaas.scale.min": "2", "com.openfaas.scale.max": "2"}
    deploy("warm-proc", ECHO, dict(warm, **{"com.funk.isolation": "process"}))
    if KVM:
        deploy("cold-kvm", ECHO, {"com.funk.isolation": "kvm"})
        deploy("boot-kvm", ECHO, {"com.funk.isolation": "kvm", "com.funk.preboot": "0"})
        deploy("snap-kvm", ECHO, {"com.funk.isolation": "kvm", "com.funk.mode": "snapshot"})
        deploy("warm-kvm", ECHO, dict(warm, **{"com.funk.isolation": "kvm"}))

    LABEL = {"native": "baseline: native echo forked per request",
             "cold-proc": "fresh unikernel/request, pre-booted (process)",
             "boot-proc": "fresh unikernel/request, booted on call (process)",
             "snap-proc": "snapshot restore per request (process)",
             "cold-kvm": "fresh unikernel/request, pre-booted (kvm)",
             "boot-kvm": "fresh unikernel/request, booted on call (kvm)",
             "snap-kvm": "snapshot restore per request (kvm)",
             "warm-proc": "warm unikernel (process backend)",
             "warm-kvm": "warm unikernel (kvm backend)"}
    cases = ["cold-proc", "boot-proc", "snap-proc", "warm-proc"]
    if KVM:
        cases += ["cold-kvm", "boot-kvm", "snap-kvm", "warm-kvm"]

    def lat_round(fn, n, raw, gap_us=0, warmup=20):
        """One funk-bench-http run; successful latencies appended to raw; returns the errors."""
        r = subprocess.run([CLIENT, "127.0.0.1", str(PORT), "/function/" + fn, str(n), "64", str(warmup),
                            str(gap_us), raw], capture_output=True, text=True)
        if r.returncode not in (0, 1) or len(r.stdout.split()) != 5:
            print("bench/gateway: funk-bench-http %s failed (%d): %s" % (fn, r.returncode, r.stderr.strip()))
            return n
        if r.stderr.strip():
            print("  " + r.stderr.strip())
        return int(r.stdout.split()[4])

    def stats(path):
        v = sorted(float(x) for x in open(path).read().split()) if os.path.exists(path) else []
        if not v:
            return None
        return v[0], statistics.median(v), v[min(len(v) - 1, int(len(v) * 0.99))], len(v)

    ROW = "%-52s %9s %9s %9s %6s %6s"

    def row(label, st, errs, extra=""):
        if st is None:
            print(ROW % (label, "-", "-", "-", 0, errs) + extra)
        else:
            print(ROW % (label, "%.0f" % st[0], "%.0f" % st[1], "%.0f" % st[2], st[3], errs) + extra)

    def interleaved(title, case_list, n, gap_us):
        print(title)
        print(ROW % ("case", "min", "median", "p99", "N", "errors"))
        per = n // ROUNDS
        for c in case_list:
            base_raw = os.path.join(tmp.name, "lat-%s-%d-base" % (c, gap_us))
            case_raw = os.path.join(tmp.name, "lat-%s-%d-case" % (c, gap_us))
            be = ce = 0
            for _ in range(ROUNDS):  # A B A B ...: drift and load hit both sides alike
                be += lat_round("native", per, base_raw, gap_us)
                ce += lat_round(c, per, case_raw, gap_us)
            b, s = stats(base_raw), stats(case_raw)
            ratio = "" if not b or not s else "   native/case median %.2fx (>1: case faster)" % (b[1] / s[1])
            row(LABEL[c], s, ce, ratio)
            row("  same-run baseline, interleaved: native fork", b, be)
            if be:
                failures.append(("native (beside %s%s)" % (c, ", gap" if gap_us else ""), be))
            if ce:
                failures.append((c + (", gap" if gap_us else ""), ce))

    interleaved("funkd invocation latency over HTTP, echo, 64-byte body, one keep-alive connection;\n"
                "each case interleaved with the native-fork baseline in %d rounds, N=%d per side (us;\n"
                "failed requests are counted under errors and left out of the latencies)" % (ROUNDS, (N // ROUNDS) * ROUNDS),
                cases, N, 0)
    # sparse arrivals: one call every 5 ms, the case pre-booting is for (the pool refills between calls)
    gap_n = min(N, 300)
    print()
    interleaved("sparse arrivals: one call every 5 ms (same layout)", ["cold-proc", "boot-proc", "snap-proc"],
                max(gap_n, ROUNDS), 5000)

    print()
    if not shutil.which("wrk"):
        print("SKIPPED: throughput (wrk not installed; scripts/deps.d/gateway.txt lists it)")
    else:
        def wrk(fn, secs):
            """(ok requests, seconds, errors dict) of one wrk run."""
            r = subprocess.run(["wrk", "-t2", "-c%d" % WRK_CONN, "-d%ds" % secs, "--timeout", "5s",
                                "http://127.0.0.1:%d/function/%s" % (PORT, fn)], capture_output=True, text=True)
            got = wrkout.parse(r.stdout) if r.returncode == 0 else None
            if not got:
                print("bench/gateway: wrk %s failed (%d): %s" % (fn, r.returncode, (r.stdout + r.stderr).strip()[-300:]))
                return 0, float(secs), {"wrk failed": 1}
            total, dur, errs = got
            return total - errs.get("non-2xx", 0), dur, errs

        per = WRK_SECONDS // WRK_ROUNDS
        print("throughput: wrk -t2 -c%d, echo; each case interleaved with the native-fork baseline in %d rounds\n"
              "of %d s, %d s per side (2xx req/s; errors = non-2xx + socket errors + timeouts)"
              % (WRK_CONN, WRK_ROUNDS, per, per * WRK_ROUNDS))
        TROW = "%-52s %10s %7s  %s"
        print(TROW % ("case", "req/s", "errors", ""))
        for c in ["warm-proc", "cold-proc", "boot-proc", "snap-proc"] + (["warm-kvm"] if KVM else []):
            acc = {"native": [0, 0.0, {}], c: [0, 0.0, {}]}
            for _ in range(WRK_ROUNDS):
                for fn in ("native", c):
                    ok, dur, errs = wrk(fn, per)
                    a = acc[fn]
                    a[0] += ok
                    a[1] += dur
                    for k, v in errs.items():
                        a[2][k] = a[2].get(k, 0) + v
            rps = {fn: (a[0] / a[1] if a[1] else 0.0) for fn, a in acc.items()}
            for fn, label in ((c, LABEL[c]),
                              ("native", "  same-run baseline, interleaved: native fork")):
                e = acc[fn][2]
                ne = sum(e.values())
                extra = ", ".join("%s %d" % kv for kv in sorted(e.items()))
                if fn == c and rps["native"]:
                    extra = ("case/native %.2fx" % (rps[c] / rps["native"])) + ("; " + extra if extra else "")
                print(TROW % (label, "%.0f" % rps[fn], ne, extra))
                if ne:
                    failures.append(("wrk " + fn + (" (beside %s)" % c if fn == "native" else ""), ne))
    print("not measured: crun run per request (crun needs the cgroup v1+v2 hybrid workaround that bench/oci/run.sh applies")
    print("and an OCI bundle per call; bench/oci measures crun)")
finally:
    stop()
if failures:
    print("bench/gateway: FAILED requests (left out of every figure above): " +
          ", ".join("%s: %d" % f for f in failures))
    sys.exit(1)
PY
