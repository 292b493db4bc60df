# SPDX-License-Identifier: Apache-2.0
# funkd snapshot mode under load: many restores (GW_SNAP_N, default 1200) from 8 client threads at
# once, every answer byte-identical to the first of its kind (fresh guest state, same output), with
# crashing calls mixed in; the snapshot is taken once; funkd's descriptors do not grow with calls.
import hashlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, Funkd, check, done, need_kvm, wait_for  # noqa: E402

need_kvm()
N = int(os.environ.get("GW_SNAP_N", "1200"))
THREADS = 8
body = hashlib.sha256(b"funk snapshot").digest() * 128  # 4 KiB, fixed
# (path, body, expected status): a request kind per i % len(KINDS); every 40th call crashes
KINDS = [("/count", b"", 200), ("/echo?x=1", body, 200), ("/env?GREETING", b"", 200)]

with Funkd() as gw:
    gw.deploy("snap", ELF["gwtest"], labels={"com.funk.mode": "snapshot", "com.funk.timeout": "10"},
              env={"GREETING": "restored"})
    check(gw.status("snap")["mode"] == "snapshot", "snapshot function deployed")
    def nfds():
        return len(os.listdir("/proc/%d/fd" % gw.proc.pid))
    fds_before = nfds()
    answers = [None] * N
    errors = []
    next_i = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= N:
                return
            if i % 40 == 39:
                path, b, _ = "/crash", b"", 502
            else:
                path, b, _ = KINDS[i % len(KINDS)]
            try:
                st, h, data = gw.req("POST", "/function/snap" + path, b, timeout=60)
                answers[i] = (path, st, h.get("x-gwtest"), h.get("content-type"), data, h.get("x-call-id"))
            except OSError as e:
                with lock:
                    errors.append((i, repr(e)))
    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(THREADS)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    secs = time.monotonic() - t0
    print("%d snapshot calls from %d threads in %.1f s (%.0f/s)" % (N, THREADS, secs, N / secs))
    check(not errors and all(a is not None for a in answers), "every call answered", errors[:5])
    # reference: the first answer of each kind; every other must be byte-identical to it
    ref = {}
    bad = []
    for i, a in enumerate(answers):
        if a is None:
            continue
        key = a[0]
        if key == "/crash":
            if a[1] != 502 or b"page fault" not in a[4]:
                bad.append((i, a[:5]))
            continue
        ref.setdefault(key, a[1:5])
        if a[1:5] != ref[key]:
            bad.append((i, a[:4], a[4][:60]))
    none = (0, None, None, b"")
    r = ref.get("/count", none)
    check(r[0] == 200 and r[3] == b"1", "every restore starts fresh: /count answers 1", r)
    r = ref.get("/echo?x=1", none)
    check(r[0] == 200 and r[1] == "1" and r[3] == body, "the 4 KiB echo comes back whole", r[:3])
    r = ref.get("/env?GREETING", none)
    check(r[0] == 200 and r[3] == b"restored", "the environment baked in the snapshot", r)
    check(not bad, "all %d answers byte-identical per kind (status, headers, body), crashes 502" % N,
          (len(bad), bad[:5]))
    ids = [a[5] for a in answers if a]
    check(len(set(ids)) == len(ids), "every call has its own X-Call-Id", len(ids) - len(set(ids)))
    # every call came on a connection (and thread) of its own: funkd's descriptors must come back
    # to where they were (a per-thread /dev/urandom fd used to leak one per connection)
    settled = wait_for(lambda: nfds() <= fds_before + 8, 20)
    check(settled, "funkd's open descriptors do not grow with connections", (fds_before, nfds()))
    _, _, lg = gw.req("GET", "/system/logs?name=snap")
    check(lg.count(b"gwtest: ready") == 1, "the guest's start-up ran once (the snapshot), not per call",
          lg.count(b"gwtest: ready"))
    m = gw.req("GET", "/metrics")[2].decode()
    n200 = next((float(ln.split()[-1]) for ln in m.splitlines()
                 if ln.startswith('gateway_function_invocation_total{code="200",function_name="snap.openfaas-fn"}')), -1)
    ncrash = len([i for i in range(N) if i % 40 == 39])
    check(n200 == N - ncrash, "metrics count the 200s", (n200, N - ncrash))
done()
