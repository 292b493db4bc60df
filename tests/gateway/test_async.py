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
    """Callback receiver: records every POST; fails the first `fail_first` of each call id."""

    def __init__(self, fail_first=0):
        self.calls = []
        self.attempts = {}
        self.lock = threading.Lock()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                cid = self.headers.get("X-Call-Id")
                with rec.lock:
                    rec.attempts[cid] = rec.attempts.get(cid, 0) + 1
                    fail = rec.attempts[cid] <= fail_first
                    if not fail:
                        rec.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/cb" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def ids(self):
        with self.lock:
            return {h.get("x-call-id") for h, _ in self.calls}


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

# kill -9 with queued jobs, restart: every job delivered at least once
rx3 = Receiver()
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
gw.kill9()
print("%d jobs submitted in %.1f s" % (N_DURABLE, time.time() - t_submit))
delivered_before = len(rx3.ids() & ids)
check(len(ids) == N_DURABLE, "%d jobs accepted" % N_DURABLE, len(ids))
print("delivered before kill -9: %d of %d" % (delivered_before, N_DURABLE))
check(delivered_before < N_DURABLE, "some jobs were still queued at the kill", delivered_before)
t_restart = time.time()
gw.start()
ok = wait_for(lambda: ids <= rx3.ids(), 120, 0.2)
print("restart to every job delivered: %.1f s" % (time.time() - t_restart))
check(ok, "after restart every job is delivered (at least once)", len(ids - rx3.ids()))
dups = len(rx3.calls) - len(rx3.ids())
print("duplicates (re-run jobs that were in flight at the kill): %d" % dups)
gw.stop()
gw.tmp.cleanup()
done()
