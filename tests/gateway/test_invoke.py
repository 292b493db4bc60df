# SPDX-License-Identifier: Apache-2.0
# funkd invocations end to end: echo, env and secrets, console mode, errors (404/413/502/504/429),
# warm instances, scale to zero and back, slow clients, concurrency, a short wrk soak.
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, Funkd, check, done, need_kvm, wait_for  # noqa: E402

need_kvm()

with Funkd("--max-body", "65536", "--read-timeout", "2") as gw:
    gw.deploy("echo", ELF["echo"])
    st, h, b = gw.req("PUT", "/function/echo/sub/path?a=1&b=two", b"hello body",
                      {"X-Custom": "v1", "Content-Type": "text/x-test"})
    check(st == 200 and b == b"hello body", "echo answers with the body", (st, b))
    check(h.get("x-echo-method") == "PUT" and h.get("x-echo-path") == "/sub/path"
          and h.get("x-echo-query") == "a=1&b=two" and h.get("x-echo-h-x-custom") == "v1"
          and h.get("content-type") == "text/x-test", "method, path, query and headers reach the guest", h)
    check(len(h.get("x-call-id", "")) == 36 and h.get("x-start-time", "").isdigit()
          and float(h.get("x-duration-seconds", "-1")) >= 0, "X-Call-Id, X-Start-Time, X-Duration-Seconds", h)
    check(h.get("x-echo-h-x-call-id") == h.get("x-call-id"), "the guest sees the same X-Call-Id")
    st, h, _ = gw.req("POST", "/function/echo", b"", {"X-Call-Id": "my-call-1"})
    check(h.get("x-call-id") == "my-call-1", "a caller's X-Call-Id is kept", h.get("x-call-id"))
    check("x-echo-h-connection" not in h and "x-echo-h-keep-alive" not in h, "hop-by-hop headers are not forwarded")
    st, _, b = gw.req("GET", "/function/echo.openfaas-fn", None, {"X-Echo-Format": "json"})
    j = json.loads(b)
    check(st == 200 and j["method"] == "GET" and j["path"] == "/", "name.namespace form and GET", b)
    big = os.urandom(60000)
    st, _, b = gw.req("POST", "/function/echo", big)
    check(st == 200 and b == big, "60 KB binary body round trip")

    # bad requests
    st, _, b = gw.req("POST", "/function/nosuch", b"x")
    check(st == 404 and b"not found" in b, "unknown function 404", (st, b))
    st, _, _ = gw.req("POST", "/function/", b"x")
    check(st == 404, "empty function name 404")
    st, _, b = gw.req("POST", "/function/echo", os.urandom(70000))
    check(st == 413, "body over --max-body 413 (Content-Length)", (st, b[:80]))

    def chunked(n):
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        s.sendall(b"POST /function/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"a" * 8192
        sent = 0
        while sent < n:
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
        s.sendall(b"0\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
        s.close()
        return data.split(b" ")[1] if data else b""
    check(chunked(100000) == b"413", "chunked body over --max-body 413")
    check(chunked(16384) == b"200", "chunked body under the limit 200")

    # environment and secrets reach the guest
    gw.req("POST", "/system/secrets", {"name": "api-key", "value": "t0psecret"})
    gw.deploy("env", ELF["gwtest"], env={"GREETING": "hi there"}, secrets=["api-key"])
    st, _, b = gw.req("GET", "/function/env/env?GREETING")
    check(st == 200 and b == b"hi there", "envVars reach the guest", (st, b))
    st, _, b = gw.req("GET", "/function/env/env?api-key")
    check(st == 200 and b == b"t0psecret", "secrets reach the guest", (st, b))
    gw.req("PUT", "/system/secrets", {"name": "api-key", "value": "rotated"})
    st, _, b = gw.req("GET", "/function/env/env?api-key")
    check(b == b"rotated", "an updated secret reaches the next instance", b)

    # per-request isolation: every call meets a guest that has served nobody before, whether it
    # was booted ahead (pre-booted, the default) or on the call
    gw.deploy("fresh", ELF["gwtest"])
    check(gw.status("fresh")["preboot"] >= 1, "per-request functions are pre-booted by default", gw.status("fresh"))
    counts = [gw.req("GET", "/function/fresh/count")[2] for _ in range(6)]
    check(counts == [b"1"] * 6, "per-request: a fresh guest for every call (pre-booted)", counts)
    gw.deploy("fresh0", ELF["gwtest"], labels={"com.funk.preboot": "0"})
    counts = [gw.req("GET", "/function/fresh0/count")[2] for _ in range(3)]
    check(counts == [b"1"] * 3 and gw.status("fresh0")["preboot"] == 0,
          "per-request: a fresh guest for every call (booted on call)", counts)
    res = []

    def burst(i):
        res.append(gw.req("GET", "/function/fresh/count")[2])
    ts = [threading.Thread(target=burst, args=(i,)) for i in range(12)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check(res == [b"1"] * 12, "per-request burst beyond the pre-booted pool: all fresh", res)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": ELF["echo"],
                                                     "labels": {"com.funk.preboot": "many"}})
    check(st == 400 and b"preboot" in b, "bad com.funk.preboot 400", (st, b))

    # snapshot mode: each call restores the guest as it was at its first FN_RECV
    gw.req("POST", "/system/secrets", {"name": "snap-key", "value": "before"})
    gw.deploy("snap", ELF["gwtest"], labels={"com.funk.mode": "snapshot", "com.funk.timeout": "1"},
              env={"GREETING": "from snapshot"}, secrets=["snap-key"])
    f = gw.status("snap")
    check(f["mode"] == "snapshot", "snapshot mode in the status", f)
    counts = [gw.req("GET", "/function/snap/count")[2] for _ in range(4)]
    check(counts == [b"1"] * 4, "snapshot: every call starts from the snapshot (fresh guest)", counts)
    st, _, b = gw.req("GET", "/function/snap/env?GREETING")
    check(st == 200 and b == b"from snapshot", "snapshot: envVars baked in", (st, b))
    gw.req("PUT", "/system/secrets", {"name": "snap-key", "value": "after"})
    st, _, b = gw.req("GET", "/function/snap/env?snap-key")
    check(st == 200 and b == b"after", "snapshot: renewed after a secret change", (st, b))
    st, _, b = gw.req("POST", "/function/snap/crash", b"")
    check(st == 502 and b"page fault" in b, "snapshot: crash 502", (st, b))
    st, _, b = gw.req("POST", "/function/snap/spin", b"")
    check(st == 504, "snapshot: timeout 504", (st, b))
    st, _, b = gw.req("POST", "/function/snap", b"still here")
    check(st == 200 and b == b"still here", "snapshot: serves after failures", (st, b))
    _, _, lg = gw.req("GET", "/system/logs?name=snap")
    check(lg.count(b"gwtest: ready") >= 1 and b"snap-snapshot" in lg, "snapshot: start-up ran once, logged", lg[:300])
    st, _, b = gw.req("POST", "/system/functions", {"service": "snaphello", "image": ELF["hello"],
                                                     "labels": {"com.funk.mode": "snapshot"}})
    check(st == 400 and b"ended before asking for a request" in b, "snapshot of a guest that never asks: 400", (st, b))
    st, _, b = gw.req("POST", "/system/functions", {"service": "snaploop", "image": ELF["loop"],
                                                     "labels": {"com.funk.mode": "snapshot", "com.funk.timeout": "0.5"}})
    check(st == 400 and b"timed out" in b, "snapshot of a guest that spins before asking: 400", (st, b))

    # console mode: a guest that never asks for a request answers with its console output
    gw.deploy("hello", ELF["hello"])
    st, h, b = gw.req("GET", "/function/hello")
    check(st == 200 and b"Hello from a funk unikernel" in b, "console output becomes the answer", (st, b))
    st, h, b = gw.req("GET", "/function/hello")
    check(st == 200 and b"Hello" in b and wait_for(lambda: gw.status("hello")["preboot"] == 0, 10),
          "a guest that never asks for requests is booted per call instead of pre-booted", (st, b))

    # exec: a native program forked per call (the benchmark's baseline), CGI style
    native = os.environ.get("ECHO_NATIVE", "")
    gw.deploy("native", native, labels={"com.funk.invoke": "exec"}, env={"X": "1"})
    st, h, b = gw.req("POST", "/function/native/n?k=v", b"native body", {"X-Custom": "n1"})
    check(st == 200 and b == b"native body" and h.get("x-echo-path") == "/n" and h.get("x-echo-query") == "k=v"
          and h.get("x-echo-h-x-custom") == "n1", "exec mode: forked native echo answers", (st, h, b))
    check(gw.status("native")["invocation"] == "exec" and gw.status("native")["isolation"] == "none",
          "exec mode shows in the status")
    plain = os.path.join(gw.tmp.name, "not-a-program")
    with open(plain, "w") as f:
        f.write("data\n")
    os.chmod(plain, 0o644)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": plain,
                                                     "labels": {"com.funk.invoke": "exec"}})
    check(st == 400 and b"not executable" in b, "exec of a non-executable 400", (st, b))

    # OCI image layout written by `funk image build` (the oci part is always built in): a build
    # failure is a test failure, not a reason to skip the checks
    from gwlib import FUNK_CLI
    oci = os.path.join(gw.tmp.name, "oci-echo")
    r = subprocess.run([FUNK_CLI, "image", "build", ELF["echo"], "-t", "oci-echo:1", "--mode", "fn",
                        "--memory", "16M", "-o", oci], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and os.path.isfile(os.path.join(oci, "index.json")),
          "funk image build writes an OCI layout", (r.returncode, r.stderr.strip()))
    gw.deploy("ociecho", oci)
    st, _, b = gw.req("POST", "/function/ociecho", b"from an OCI layout")
    check(st == 200 and b == b"from an OCI layout", "OCI image layout as the image", (st, b))
    check(gw.status("ociecho")["memoryBytes"] == 16 << 20, "the image's memory annotation is used")
    blobs = os.path.join(oci, "blobs", "sha256")
    big = max(os.listdir(blobs), key=lambda f: os.path.getsize(os.path.join(blobs, f)))
    with open(os.path.join(blobs, big), "r+b") as f:
        f.seek(600)
        f.write(b"\x00tampered")
    st, _, b = gw.req("POST", "/system/functions", {"service": "tampered", "image": oci})
    check(st == 400 and b"digest" in b, "a tampered OCI blob is refused", (st, b))
    st, _, b = gw.req("POST", "/system/functions", {"service": "notoci", "image": gw.tmp.name})
    check(st == 400 and b"not an OCI image layout" in b, "a plain directory is refused", (st, b))

    # failures
    gw.deploy("gwtest", ELF["gwtest"])
    st, _, b = gw.req("POST", "/function/gwtest/crash", b"")
    check(st == 502 and b"crashed" in b and b"page fault" in b, "guest crash 502 with a reason", (st, b))
    st, _, b = gw.req("POST", "/function/gwtest/exit", b"")
    check(st == 502 and b"without a response" in b, "exit without an answer 502", (st, b))
    gw.deploy("abort", ELF["abort"])
    st, _, b = gw.req("POST", "/function/abort", b"")
    check(st == 502 and b"255" in b, "abort() 502", (st, b))
    gw.deploy("loop", ELF["loop"], labels={"com.funk.timeout": "0.5"})
    t0 = time.time()
    st, _, b = gw.req("POST", "/function/loop", b"")
    check(st == 504 and b"timed out" in b and time.time() - t0 < 10, "guest over its timeout 504", (st, b))
    st, _, b = gw.req("POST", "/function/gwtest", b"still fine")
    check(st == 200 and b == b"still fine", "everything else keeps serving")

    # slow client: a connection that never finishes its headers is closed, others are served
    s = socket.create_connection(("127.0.0.1", gw.port))
    s.sendall(b"POST /function/echo HTTP/1.1\r\nHost: x\r\n")
    st, _, _ = gw.req("POST", "/function/echo", b"meanwhile")
    check(st == 200, "served while a slow client dawdles")
    s.settimeout(10)
    try:
        closed = s.recv(100) == b""
    except (socket.timeout, ConnectionResetError):
        closed = False
    s.close()
    check(closed, "slow client closed after --read-timeout")

    # concurrency: per-request VMs in parallel
    res = []

    def call(i):
        st, _, b = gw.req("POST", "/function/echo", b"c%d" % i)
        res.append(st == 200 and b == b"c%d" % i)
    ts = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check(len(res) == 24 and all(res), "24 concurrent per-request calls", res.count(False))

    # warm mode: instances loop on FN_RECV, scale to zero when idle, come back on demand
    # (idle timeout 3 s: a loaded machine can leave more than 0.5 s between two calls)
    gw.deploy("warm", ELF["gwtest"], labels={"com.funk.mode": "warm", "com.funk.idle_timeout": "3",
                                              "com.funk.timeout": "2", "com.openfaas.scale.max": "2"})
    check(gw.status("warm")["replicas"] == 0, "warm function starts at zero")
    for i in range(5):
        st, _, b = gw.req("POST", "/function/warm", b"w%d" % i)
        if st != 200 or b != b"w%d" % i:
            break
    check(st == 200 and b == b"w4", "warm instance serves calls in turn", (st, b))
    st, _, b = gw.req("GET", "/function/warm/count")
    check(st == 200 and int(b) >= 2, "a warm guest keeps serving (its call count grows)", b)
    f = gw.status("warm")
    check(f["replicas"] >= 1 and f["mode"] == "warm", "warm instance is up", f)
    z = wait_for(lambda: gw.status("warm")["replicas"] == 0, 10)
    check(z, "idle warm function scales to zero")
    st, _, b = gw.req("POST", "/function/warm", b"back")
    check(st == 200 and b == b"back", "scale from zero on the next call", (st, b))
    st, _, b = gw.req("POST", "/function/warm/spin", b"")
    check(st == 504, "warm call over its timeout 504", (st, b))
    st, _, b = gw.req("POST", "/function/warm", b"after")
    check(st == 200 and b == b"after", "warm function recovers after a timeout", (st, b))
    st, _, b = gw.req("POST", "/function/warm/crash", b"")
    check(st == 502 and b"page fault" in b, "warm crash 502", (st, b))
    st, _, b = gw.req("POST", "/function/warm", b"again")
    check(st == 200 and b == b"again", "warm function recovers after a crash", (st, b))
    gw.req("POST", "/system/scale-function/warm", {"replicas": 2})
    check(wait_for(lambda: gw.status("warm")["availableReplicas"] == 2, 10), "scale-function starts instances")
    gw.req("POST", "/system/scale-function/warm", {"replicas": 0})
    check(wait_for(lambda: gw.status("warm")["replicas"] == 0, 10), "scale-function to 0 stops them")

    # overload: max_inflight. The held call is in flight once its guest has logged "gwtest:
    # holding" (or the exec script has touched its file): the test waits on that event, then the
    # next call must meet the limit while the held one goes on for seconds.
    def over_limit(name, what, ms=4000):
        tag = "%s-%d" % (name, time.monotonic_ns())
        slow = []
        t = threading.Thread(target=lambda: slow.append(gw.req("POST", "/function/%s/hold?ms=%d&tag=%s"
                                                                % (name, ms, tag), b"")[0]))
        t0 = time.monotonic()
        t.start()
        arrived = gw.wait_log(name, "gwtest: holding ms=%d&tag=%s" % (ms, tag), 20)
        st, _, b = gw.req("POST", "/function/" + name, b"x")
        in_time = time.monotonic() - t0 < ms / 1000.0
        t.join()
        check(arrived and st == 429 and b"Concurrent request limit exceeded. Max concurrent requests: 1" in b
              and slow == [200], "over max_inflight 429 while a call is in flight (%s)" % what,
              (arrived, st, b, slow, "429 answered while the held call ran" if in_time else "held call ended first"))
        st, _, _ = gw.req("POST", "/function/" + name, b"x")
        check(st == 200, "accepts again after the burst (%s)" % what, st)

    gw.deploy("one", ELF["gwtest"], labels={"com.funk.mode": "warm", "com.funk.max_inflight": "1",
                                             "com.openfaas.scale.max": "1"})
    over_limit("one", "warm")
    # the same limit on per-request functions (pre-booted or booted on the call) and exec ones
    gw.deploy("pr1", ELF["gwtest"], labels={"com.funk.max_inflight": "1"})
    over_limit("pr1", "per-request, pre-booted")
    gw.deploy("pr0", ELF["gwtest"], labels={"com.funk.max_inflight": "1", "com.funk.preboot": "0"})
    over_limit("pr0", "per-request, booted on the call")
    gw.deploy("envmi", ELF["gwtest"], env={"max_inflight": "1"})
    over_limit("envmi", "envVars max_inflight")

    # exec: a CGI script that marks its start with a file and waits (bounded) for the test to
    # release it; max_inflight 2 lets exactly two run at once
    xdir = os.path.join(gw.tmp.name, "exec-hold")
    os.makedirs(xdir)
    script = os.path.join(xdir, "hold.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                "touch %s/started.$$\n"
                "i=0\n"
                "while [ ! -e %s/release ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n"
                "printf 'Status: 200\\r\\nContent-Type: text/plain\\r\\n\\r\\nreleased\\n'\n" % (xdir, xdir))
    os.chmod(script, 0o755)
    gw.deploy("xhold", script, labels={"com.funk.invoke": "exec", "com.funk.max_inflight": "2"})
    held = []
    ts = [threading.Thread(target=lambda: held.append(gw.req("POST", "/function/xhold", b"")[:3:2]))
          for _ in range(2)]
    [t.start() for t in ts]
    both = wait_for(lambda: len([f for f in os.listdir(xdir) if f.startswith("started.")]) == 2, 20)
    st, _, b = gw.req("POST", "/function/xhold", b"")
    third_while_held = not os.path.exists(os.path.join(xdir, "release")) and len(held) == 0
    open(os.path.join(xdir, "release"), "w").close()
    [t.join() for t in ts]
    check(both and third_while_held and st == 429
          and b"Concurrent request limit exceeded. Max concurrent requests: 2" in b,
          "exec mode: a third call beside two in flight gets 429", (both, third_while_held, st, b))
    check(held == [(200, b"released\n")] * 2, "exec mode: the two calls in flight complete", held)
    st, _, b = gw.req("POST", "/function/xhold", b"")
    check(st == 200 and b == b"released\n", "exec mode: accepts again after the burst", (st, b))

    # short wrk soak against a warm function (60 s one lives in bench/gateway)
    if shutil.which("wrk"):
        gw.deploy("soak", ELF["echo"], labels={"com.funk.mode": "warm", "com.openfaas.scale.max": "2"})
        gw.req("POST", "/function/soak", b"warm up")
        r = subprocess.run(["wrk", "-t2", "-c4", "-d10s", "--timeout", "10s", "%s/function/soak" % gw.url()],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout
        ok = r.returncode == 0 and "Non-2xx" not in out and "Socket errors" not in out
        check(ok, "10 s wrk soak without errors", out)
        print(out)
    else:
        print("note: wrk not installed, soak skipped")
    check("ERROR: AddressSanitizer" not in gw.logtext(), "no sanitizer report in funkd's log")

done()
