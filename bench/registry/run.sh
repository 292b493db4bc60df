#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Deploy-from-registry time for the echo image: funkd deploying image: localhost:PORT/repo:tag
# from docker-registry on loopback with an empty image cache (cold pull: manifest, config and
# layer fetched and verified) vs with it cached (the tag resolved again, no blob fetched) vs by
# digest (cached: no request), with a local ELF path deploy as the baseline. Cases interleaved
# per iteration in one run; min/median/p99 of the deploy request's wall time and N; a failed
# deploy fails the run. Exit 77 when docker-registry is missing. Short run: N=20 bench/registry/run.sh
set -euo pipefail
PREFIX=${FUNK_PREFIX:-$(cd "$(dirname "$0")/../.." && pwd)/build}
exec python3 - "$PREFIX" <<'PY'
import hashlib, http.client, json, os, shutil, socket, subprocess, sys, tempfile, time

prefix = sys.argv[1]
N = int(os.environ.get("N", "50"))
FUNKD = os.path.join(prefix, "bin", "funkd")
FUNK = os.path.join(prefix, "bin", "funk")
ECHO = os.path.join(prefix, "unikernels", "echo.elf")
for f in (FUNKD, FUNK, ECHO):
    if not os.path.exists(f):
        print("bench/registry: missing %s (build and install first)" % f)
        sys.exit(1)
REG = shutil.which("docker-registry")
if not REG:
    print("bench/registry: docker-registry is not installed (scripts/deps.d/oci.txt): SKIPPED")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="funk-bench-registry-")
procs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(port, path, proc, what):
    deadline = time.time() + 20
    while time.time() < deadline and proc.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start(cmd_for_port, path, what):
    """Starts a server on a free port, again on a new one when the port was taken meanwhile."""
    for _ in range(5):
        port = free_port()
        log = open(os.path.join(tmp, what + ".log"), "wb")
        p = subprocess.Popen(cmd_for_port(port), stdout=log, stderr=subprocess.STDOUT)
        if wait_http(port, path, p, what):
            procs.append(p)
            return port
        p.kill()
        p.wait()
        if b"in use" not in open(os.path.join(tmp, what + ".log"), "rb").read():
            break
    print("bench/registry: %s did not start" % what)
    sys.exit(1)


def registry_cmd(port):
    cfg = os.path.join(tmp, "registry.yml")
    with open(cfg, "w") as f:
        f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                "storage:\n  filesystem:\n    rootdirectory: %s/storage\n"
                "http:\n  addr: 127.0.0.1:%d\n" % (tmp, port))
    return [REG, "serve", cfg]


state = os.path.join(tmp, "state")
try:
    rport = start(registry_cmd, "/v2/", "registry")
    gport = start(lambda p: [FUNKD, "--listen", "127.0.0.1:%d" % p, "--state-dir", state,
                             "--preboot", "0", "--log-level", "warn"], "/healthz", "funkd")
    ref = "localhost:%d/bench/echo:v1" % rport
    subprocess.run([FUNK, "image", "build", ECHO, "-t", "echo", "--mode", "fn", "-o",
                    os.path.join(tmp, "layout")], check=True, capture_output=True)
    digest = subprocess.run([FUNK, "image", "push", os.path.join(tmp, "layout"), ref], check=True,
                            capture_output=True, text=True).stdout.strip()
    cache = os.path.join(state, "images")

    def deploy(image):
        body = json.dumps({"service": "regbench", "image": image}).encode()
        c = http.client.HTTPConnection("127.0.0.1", gport, timeout=120)
        t0 = time.perf_counter()
        c.request("PUT" if deployed[0] else "POST", "/system/functions", body,
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        dt = time.perf_counter() - t0
        c.close()
        if r.status != 202:
            raise RuntimeError("deploy %s: %d %s" % (image, r.status, data[:300]))
        deployed[0] = True
        return dt

    deployed = [False]
    cases = [("cold pull (empty cache)", lambda: (shutil.rmtree(cache, ignore_errors=True), deploy(ref))[1]),
             ("cached, tag resolved", lambda: deploy(ref)),
             ("cached, by digest", lambda: deploy(ref.rsplit(":", 1)[0] + "@" + digest)),
             ("local ELF path (baseline)", lambda: deploy(ECHO))]
    times = {name: [] for name, _ in cases}
    for _ in range(N):
        for name, fn in cases:
            times[name].append(fn())
    print("bench/registry: funkd deploy of the echo image (echo.elf %d KiB) from docker-registry on "
          "loopback, cases interleaved, N=%d each" % (os.path.getsize(ECHO) // 1024, N))
    print("%-28s %9s %9s %9s %5s" % ("case", "min ms", "median ms", "p99 ms", "N"))
    for name, _ in cases:
        t = sorted(times[name])
        p99 = t[min(len(t) - 1, int(round(0.99 * (len(t) - 1))))]
        print("%-28s %9.2f %9.2f %9.2f %5d" % (name, t[0] * 1e3, t[len(t) // 2] * 1e3, p99 * 1e3, len(t)))
finally:
    for p in procs:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)
PY
