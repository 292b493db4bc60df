# SPDX-License-Identifier: Apache-2.0
# funkd async invocations: 202 + callback with the result, retries, errors, and kill -9 durability.
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, Funkd, check, done, need_kvm, wait_for  # noqa: E402

need_kvm()
N_DURABLE = int(os.environ.get("GW_ASYNC_JOBS", "1000"))


class Receiver:
    """Callback receiver: records every POST (arrival time per call id); fails the first
    `fail_first` of each call id. While hold() is on, arriving callbacks wait until release() and
    are then failed (503) and not recorded: nothing can be delivered while it is held."""

    def __init__(self, fail_first=0):
        self.calls = []
        self.attempts = {}
        self.times = {}  # call id -> monotonic arrival times of every attempt
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                cid = self.headers.get("X-Call-Id")
                if not rec.gate.is_set():
                    with rec.lock:
                        rec.held += 1
                    rec.gate.wait(120)
                    self.reply(503)
                    return
                with rec.lock:
                    rec.attempts[cid] = rec.attempts.get(cid, 0) + 1
                    rec.times.setdefault(cid, []).append(time.monotonic())
                    fail = rec.attempts[cid] <= fail_first
                    if not fail:
                        rec.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.reply(500 if fail else 200)

            def reply(self, code):
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (funkd killed while a callback was held)

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/cb" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def ids(self):
        with self.lock:
            return {h.get("x-call-id") for h, _ in self.calls}

    def hold(self):
        self.gate.clear()

    def release(self):
        self.gate.set()


def pending(gw):
    """funk_async_jobs_pending from /metrics (-1 when missing)."""
    for line in gw.req("GET", "/metrics")[2].decode().splitlines():
        if line.startswith("funk_async_jobs_pending "):
            return int(line.split()[1])
    return -1


rx = Receiver()
with Funkd() as gw:
    gw.deploy("echo", ELF["echo"])
    st, h, _ = gw.req("POST", "/async-function/echo/p?q=1", b"async body", {"X-Callback-Url": rx.url})
    cid = h.get("x-call-id")
    check(st == 202 and cid, "POST /async-function 202 with X-Call-Id", (st, h))
    got = wait_for(lambda: [c for c in rx.calls if c[0].get("x-call-id") == cid], 15)
    check(len(got) == 1, "callback delivered", rx.calls)
    if got:
        hh, body = got[0]
        check(body == b"async body" and hh.get("x-function-status") == "200"
              and float(hh.get("x-duration-seconds", "-1")) >= 0
              and hh.get("x-function-name") == "echo.openfaas-fn" and hh.get("x-echo-path") == "/p"
              and hh.get("x-echo-query") == "q=1", "callback carries body, status, duration, name", hh)
    st, _, b = gw.req("POST", "/async-function/nosuch", b"x", {"X-Callback-Url": rx.url})
    check(st == 404, "async to an unknown function 404 (not 202)", (st, b))
    st, _, b = gw.req("GET", "/async-function/echo")
    check(st == 405, "async GET 405", st)
    st, _, b = gw.req("POST", "/async-function/echo", b"x", {"X-Callback-Url": "ftp://x/y"})
    check(st == 400, "malformed X-Callback-Url 400", (st, b))
    st, _, b = gw.req("POST", "/async-function/echo", b"x", {"X-Callback-Url": "http:///nohost"})
    check(st == 400, "X-Callback-Url without a host 400", (st, b))
    before = gw.status("echo")["invocationCount"]
    st, _, _ = gw.req("POST", "/async-function/echo", b"fire and forget")
    check(st == 202, "async without a callback 202")
    check(wait_for(lambda: gw.status("echo")["invocationCount"] > before, 10), "job without callback runs")
    # failures become callbacks too
    gw.deploy("crash", ELF["gwtest"])
    st, h, _ = gw.req("POST", "/async-function/crash/crash", b"", {"X-Callback-Url": rx.url})
    cid = h.get("x-call-id")
    got = wait_for(lambda: [c for c in rx.calls if c[0].get("x-call-id") == cid], 15)
    check(got and got[0][0].get("x-function-status") == "502", "a crash is reported as X-Function-Status 502", got)

# retries with backoff
rx2 = Receiver(fail_first=2)
with Funkd("--callback-retries", "5") as gw:
    gw.deploy("echo", ELF["echo"])
    st, h, _ = gw.req("POST", "/async-function/echo", b"retry me", {"X-Callback-Url": rx2.url})
    cid = h.get("x-call-id")
    got = wait_for(lambda: [c for c in rx2.calls if c[0].get("x-call-id") == cid], 20)
    check(got and rx2.attempts.get(cid) == 3, "callback retried after failures (3 attempts)", rx2.attempts)

# giving up: --callback-retries N is the number of delivery attempts (docs/gateway.md, funkd
# --help); between them funkd waits 0.2 s, doubling. A receiver that always fails gets exactly N
# attempts, spaced at least 0.2, 0.4, 0.8, 1.6 s (at most 0.6 s later each: funkd's workers look
# for due retries every 0.1 s), then the job is kept as failed and never retried, not even after
# a restart.
RETRIES = 5
rx5 = Receiver(fail_first=10 ** 9)
with Funkd("--callback-retries", str(RETRIES)) as gw:
    gw.deploy("echo", ELF["echo"])
    st, h, _ = gw.req("POST", "/async-function/echo", b"nobody takes this", {"X-Callback-Url": rx5.url})
    cid = h.get("x-call-id")
    gave_up = wait_for(lambda: any(cid in ln and "giving up" in ln for ln in gw.logtext().splitlines()), 60)
    check(st == 202 and gave_up, "funkd gives up on a callback that always fails (logged)", gw.logtext()[-600:])
    n_at_give_up = rx5.attempts.get(cid, 0)
    check(n_at_give_up == RETRIES, "--callback-retries %d: exactly %d delivery attempts" % (RETRIES, RETRIES),
          rx5.attempts)
    t = rx5.times.get(cid, [])
    gaps = [b - a for a, b in zip(t, t[1:])]
    want = [0.2 * 2 ** i for i in range(RETRIES - 1)]
    print("callback attempt gaps (s): %s, documented: %s" % (["%.3f" % g for g in gaps], want))
    check(len(gaps) == len(want) and all(w - 0.02 <= g <= w + 0.6 for g, w in zip(gaps, want)),
          "backoff between attempts: 0.2 s doubling (each gap within [d - 0.02, d + 0.6] s)", gaps)
    check(wait_for(lambda: pending(gw) == 0, 10), "a given-up job no longer counts as pending", pending(gw))
    # kept as failed across a restart: delivery is not tried again
    gw.stop()
    gw.start()
    check(pending(gw) == 0, "after a restart the given-up job is still not pending", pending(gw))
    ok = gw.req("POST", "/async-function/echo", b"probe", {"X-Callback-Url": rx.url})
    probe = ok[1].get("x-call-id")
    check(wait_for(lambda: probe in rx.ids(), 20), "the restarted funkd delivers new jobs")
    # (pending 0 says the job is in the failed state, which no worker claims)
    check(rx5.attempts.get(cid, 0) == n_at_give_up, "no attempt after giving up, not even after a restart",
          (n_at_give_up, rx5.attempts))

# kill -9 with queued jobs, restart: every job delivered at least once. The receiver holds every
# callback until funkd is killed, so at the kill nothing has been delivered and jobs are queued
# by construction (was: a race between 1000 submissions and the worker).
rx3 = Receiver()
rx3.hold()
gw = Funkd("--async-workers", "1")
gw.start()
gw.deploy("echo", ELF["echo"])
ids = set()
t_submit = time.time()
import http.client  # noqa: E402
conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
for i in range(N_DURABLE):
    conn.request("POST", "/async-function/echo", body=b"job %d" % i, headers={"X-Callback-Url": rx3.url})
    r = conn.getresponse()
    r.read()
    if r.status == 202:
        ids.add(r.getheader("X-Call-Id"))
conn.close()
print("%d jobs submitted in %.1f s" % (N_DURABLE, time.time() - t_submit))
check(wait_for(lambda: rx3.held >= 1, 30), "the worker is delivering the first result (held by the receiver)")
queued = pending(gw)
gw.kill9()
rx3.release()
check(len(ids) == N_DURABLE, "%d jobs accepted" % N_DURABLE, len(ids))
check(not rx3.ids() and queued >= N_DURABLE - 1, "at the kill nothing was delivered and the jobs were pending",
      (len(rx3.ids()), queued))
t_restart = time.time()
gw.start()
ok = wait_for(lambda: ids <= rx3.ids(), 120, 0.2)
print("restart to every job delivered: %.1f s" % (time.time() - t_restart))
check(ok, "after restart every job is delivered (at least once)", len(ids - rx3.ids()))
dups = len(rx3.calls) - len(rx3.ids())
print("duplicates (re-run jobs that were in flight at the kill): %d" % dups)
check(wait_for(lambda: pending(gw) == 0, 20), "no job pending once all are delivered", pending(gw))
gw.stop()
gw.tmp.cleanup()
done()
