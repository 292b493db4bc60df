# SPDX-License-Identifier: Apache-2.0
# funkd's HTTP boundary against hostile clients, over real sockets (issue 11 items 8 and 9): a
# second funkd on a busy port, slowloris (per-address and total connection limits, the
# request-head deadline), unfinished large bodies to an unknown function or without credentials
# (answered from the head, the body never read or buffered), and --max-body-total.
import os
import resource
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, Funkd, check, done, need_kvm, wait_for  # noqa: E402

MIB = 1 << 20
EXIT_LISTEN = 3  # funkd: cannot listen on --listen (docs/gateway.md)

need_kvm()
# about 1100 sockets here (scaled down below where the hard limit is lower); funkd raises its own
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < 4096:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard == resource.RLIM_INFINITY else min(hard, 4096), hard))


def connect_from(src, port):
    """A TCP connection to funkd from source address src (any 127.x.y.z is the loopback)."""
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def closed_now(s):
    """True when the peer closed s (EOF or reset), False while it is open and silent."""
    try:
        r, _, _ = select.select([s], [], [], 0)
    except ValueError:  # fd above FD_SETSIZE: poll instead
        p = select.poll()
        p.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
        r = p.poll(0)
    if not r:
        return False
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def wait_closed(socks, until, want=None):
    """Polls until want (default: every) socket in socks is closed by the peer or time.time()
    passes until; returns {socket: time it was seen closed}."""
    want = len(socks) if want is None else want
    seen = {}
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
    byfd = {s.fileno(): s for s in socks}
    while len(seen) < want and time.time() < until:
        for fd, _ in p.poll(max(0, int((until - time.time()) * 1000)) or 1):
            s = byfd[fd]
            if s not in seen and closed_now(s):
                seen[s] = time.time()
                p.unregister(fd)
    return seen


def status_of(s, timeout):
    """Reads an HTTP status line from blocking-or-not socket s within timeout: the code, or None."""
    s.setblocking(True)
    s.settimeout(timeout)
    data = b""
    try:  # (leading CRLFs: the end of an interim 100 Continue read earlier)
        while b"\r\n" not in data.lstrip(b"\r\n"):
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    parts = data.lstrip(b"\r\n").split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def healthz(port, timeout):
    """(status or the error, seconds) of GET /healthz on a fresh connection from 127.0.0.1."""
    t0 = time.time()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st = status_of(s, timeout - (time.time() - t0))
        s.close()
    except OSError as e:
        st = str(e)
    return st, time.time() - t0


def vmrss(pid, field="VmRSS"):
    """funkd's resident memory now (VmRSS) or at its peak so far (VmHWM), bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def push_body(s, head, total, stall=0.5):
    """Sends head, then up to total bytes of body while funkd takes them; stops when the socket
    stays unwritable for stall seconds or funkd closed it. Returns the body bytes sent."""
    s.setblocking(True)
    s.sendall(head)
    s.setblocking(False)
    chunk = b"b" * 65536
    sent = 0
    while sent < total:
        _, w, _ = select.select([], [s], [], stall)
        if not w:
            break
        try:
            sent += s.send(chunk[:min(len(chunk), total - sent)])
        except BlockingIOError:
            continue
        except OSError:  # EPIPE / ECONNRESET: funkd answered and closed
            break
    return sent


def head_status(port, data, timeout=5.0):
    """The status funkd answers to data (a request head, no body) on a new connection."""
    s = connect_from("127.0.0.1", port)
    s.setblocking(True)
    s.sendall(data)
    st = status_of(s, timeout)
    s.close()
    return st


def held_bodies(gw, head):
    """M connections that each send head and all but the last byte of a BODY-byte body, then
    hold: (how much funkd's VmRSS grew meanwhile, the status each gets within 5 s)."""
    rss0 = vmrss(gw.proc.pid)
    conns = []
    for i in range(M):
        s = connect_from("127.0.0.1", gw.port)
        push_body(s, head, BODY - 1)
        conns.append(s)
    grown = vmrss(gw.proc.pid) - rss0
    until = time.time() + 5
    answered = [status_of(s, max(0.1, until - time.time())) for s in conns]
    for s in conns:
        s.close()
    return grown, answered


# ---- item 9: a busy port is a start-up error, the first funkd keeps every call --------------
def busy_port():
    with Funkd() as a:
        a.deploy("echo", ELF["echo"])
        b = Funkd(port=a.port)  # its own state: it would answer 404 for echo
        b.start(wait=False)
        # until it has exited, or says it listens (then calls would go to either)
        wait_for(lambda: b.proc.poll() is not None or "listening on" in b.logtext(), 20)
        N = 40
        got = [a.req("POST", "/function/echo", b"call %d" % i) for i in range(N)]
        try:
            rc = b.proc.wait(5)
        except subprocess.TimeoutExpired:
            rc = None
            b.proc.kill()
            b.proc.wait()
        log = b.logtext()
        b.proc = None
        b.tmp.cleanup()
        check(rc == EXIT_LISTEN, "second funkd on a busy port exits %d" % EXIT_LISTEN,
              (rc, log[-500:]))
        check("127.0.0.1:%d" % a.port in log and "in use" in log,
              "its error names the address and says it is in use", log[-500:])
        ok = [st == 200 and body == b"call %d" % i for i, (st, _, body) in enumerate(got)]
        check(all(ok), "the first funkd answers all %d calls" % N, [g[0] for g in got])


HEAD = 3.0      # --head-timeout
PER_IP = 32     # --max-connections-per-ip
SOURCES = 35      # addresses 127.0.0.3.. trickling EACH connections each: over 1024 fds in all
EACH = 30        # <= PER_IP
M = 32
# fewer trickling sources where this process may not open that many sockets (funkd takes its
# hard limit, the same as ours)
_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
if _fds != resource.RLIM_INFINITY and _fds - 100 < 2 * PER_IP + SOURCES * EACH:
    SOURCES = max(4, (_fds - 100 - 2 * PER_IP) // EACH)
    print("note: RLIMIT_NOFILE %d: slowloris with %d sources of %d connections" % (_fds, SOURCES, EACH))
BODY = 8 * MIB  # funkd's default --max-body


# ---- item 8a: slowloris --------------------------------------------------------------------
def slowloris():
    with Funkd("--head-timeout", str(HEAD), "--max-connections-per-ip", str(PER_IP),
               "--max-connections", "1400") as gw:
        over = [connect_from("127.0.0.2", gw.port) for _ in range(2 * PER_IP)]
        t_open = time.time()
        others = [connect_from("127.0.0.%d" % (3 + i // EACH), gw.port) for i in range(SOURCES * EACH)]
        socks = over + others
        for s in socks:  # a request line, and then never the end of the head
            try:
                s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass
        # funkd refuses the connections from 127.0.0.2 above the per-address limit at once
        refused = wait_closed(over, time.time() + 2.0, want=PER_IP)
        check(len(refused) == PER_IP, "connections over --max-connections-per-ip are refused",
              "%d of %d closed" % (len(refused), PER_IP))
        early = [s for s in others if closed_now(s)]
        check(not early, "connections within the limits are kept", len(early))

        # trickle a header line every 0.5 s into every connection still open; /healthz from another
        # address must answer quickly all along; every trickler is cut at its head deadline
        tricklers = [s for s in socks if s not in refused]
        cut = {}
        probes = []
        n = 0
        until = t_open + HEAD + 6
        while len(cut) < len(tricklers) and time.time() < until:
            for s in tricklers:
                if s in cut:
                    continue
                try:
                    s.send(b"X-Pad-%d: x\r\n" % n)
                except BlockingIOError:
                    pass
                except OSError:
                    cut[s] = time.time()
            n += 1
            probes.append(healthz(gw.port, 3.0))
            for s, t in wait_closed([s for s in tricklers if s not in cut], time.time() + 0.5).items():
                cut[s] = t
        slow = [p for p in probes if p[0] != 200 or p[1] > 2.0]
        print("note: /healthz probes (status, seconds): %s" % ["%s %.3f" % p for p in probes])
        check(len(probes) >= 2 and not slow, "/healthz answers within 2 s while %d connections trickle"
              % len(tricklers), (len(probes), slow))
        check(len(cut) == len(tricklers), "every trickling connection is cut (trickling does not "
              "extend --head-timeout)", "%d of %d" % (len(cut), len(tricklers)))
        if cut:
            first, last = min(cut.values()) - t_open, max(cut.values()) - t_open
            check(first >= HEAD - 0.5 and last <= HEAD + 4.0, "they are cut at the head deadline "
                  "(%.1f s)" % HEAD, "first %.2f s, last %.2f s after opening" % (first, last))
        for s in socks:
            s.close()
        st, _ = healthz(gw.port, 5.0)
        check(st == 200, "/healthz after the slowloris", st)


# total limit: a full server refuses new connections, and frees itself at the head deadline
def total_limit():
    with Funkd("--head-timeout", "2", "--max-connections", "40", "--max-connections-per-ip", "0") as gw:
        idle = [connect_from("127.0.0.2", gw.port) for _ in range(40)]
        extra = connect_from("127.0.0.1", gw.port)
        got = wait_closed([extra], time.time() + 1.5)
        check(extra in got, "a connection over --max-connections is refused at once")
        extra.close()
        freed = wait_closed(idle, time.time() + 2 + 5)
        check(len(freed) == len(idle), "silent connections are closed at the head deadline",
              "%d of %d" % (len(freed), len(idle)))
        st, _ = healthz(gw.port, 5.0)
        check(st == 200, "/healthz answers once they are gone", st)
        for s in idle:
            s.close()


# the head deadline covers only the head: a call may run longer; an idle keep-alive connection
# waits for its next head, so it is closed at the deadline too
def long_call():
    with Funkd("--head-timeout", "1") as gw:
        gw.deploy("gwtest", ELF["gwtest"])
        s = connect_from("127.0.0.1", gw.port)
        s.setblocking(True)
        t0 = time.time()
        s.sendall(b"GET /function/gwtest/sleep?ms=2500 HTTP/1.1\r\nHost: x\r\n\r\n")
        st = status_of(s, 20.0)
        check(st == 200 and time.time() - t0 >= 2.5, "a call running past --head-timeout is answered",
              (st, time.time() - t0))
        t1 = time.time()
        got = wait_closed([s], t1 + 5)
        check(s in got and got[s] - t1 < 4, "then the idle keep-alive connection is closed at the "
              "head deadline", got.get(s, 0) - t1)
        s.close()


# ---- item 8c: a body that trickles to an existing function -------------------------------------
# libmicrohttpd's timeout restarts on every byte, so before --body-timeout a client sending a
# body byte by byte held its connection (and a thread) until the connection limits.
def slow_body():
    with Funkd("--body-timeout", "2") as gw:
        gw.deploy("echo", ELF["echo"])
        gw.deploy("gwtest", ELF["gwtest"])
        head = b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
        tricklers = []
        for _ in range(5):
            s = connect_from("127.0.0.1", gw.port)
            s.setblocking(True)
            s.sendall(head)
            s.setblocking(False)
            tricklers.append(s)
        t0 = time.time()
        closed = {}
        while time.time() < t0 + 10 and len(closed) < len(tricklers):
            for s in tricklers:
                if s in closed:
                    continue
                if closed_now(s):
                    closed[s] = time.time() - t0
                    continue
                try:
                    s.send(b"x")  # one byte every 0.3 s: never idle for --read-timeout
                except OSError:
                    closed[s] = time.time() - t0
            time.sleep(0.3)
        for s in tricklers:
            s.close()
        check(len(closed) == len(tricklers) and max(closed.values()) < 5,
              "bodies trickling to a real function are cut at --body-timeout 2 (trickling does "
              "not extend it)", sorted(round(v, 1) for v in closed.values()))
        # a slow body that is complete in time is served
        s = connect_from("127.0.0.1", gw.port)
        s.setblocking(True)
        s.sendall(b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for ch in b"slowbody":
            time.sleep(0.1)
            s.sendall(bytes([ch]))
        st = status_of(s, 20.0)
        s.close()
        check(st == 200, "a body complete within --body-timeout is served", st)
        # the deadline ends with the body: a call may then run longer than it
        s = connect_from("127.0.0.1", gw.port)
        s.setblocking(True)
        t1 = time.time()
        s.sendall(b"POST /function/gwtest/sleep?ms=3000 HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1\r\n\r\nx")
        st = status_of(s, 30.0)
        s.close()
        check(st == 200 and time.time() - t1 >= 3, "a call running past --body-timeout is answered",
              (st, time.time() - t1))


# ---- item 8b: unfinished bodies to a function that does not exist ----------------------------
def unknown_function_bodies():
    with Funkd() as gw:
        head = b"POST /function/nosuch HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY
        st = head_status(gw.port, head)  # and not one byte of the body
        check(st == 404, "404 for an unknown function from the head alone, before the body", st)
        st = head_status(gw.port, head[:-2] + b"Expect: 100-continue\r\n\r\n")
        check(st == 404, "Expect: 100-continue to an unknown function gets 404, not 100", st)

        grown, answered = held_bodies(gw, head)
        check(grown < M * MIB, "%d unfinished 8 MiB bodies to an unknown function cost funkd < %d MiB"
              % (M, M), "VmRSS grew %.1f MiB" % (grown / MIB))
        check(all(a == 404 for a in answered), "each of them got 404", answered)

        # the function is found from the head; deleted while its body arrives, the call is 404
        gw.deploy("echo", ELF["echo"])
        s = connect_from("127.0.0.1", gw.port)
        s.setblocking(True)
        s.sendall(b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        st = status_of(s, 10.0)  # 100 Continue: funkd has routed the head and found echo
        check(st == 100, "Expect: 100-continue to a function that exists gets 100", st)
        s.sendall(b"hello")
        st, _, b = gw.req("DELETE", "/system/functions", {"functionName": "echo"})
        check(st == 202, "deleted meanwhile", (st, b))
        s.sendall(b"world")
        st = status_of(s, 10.0)
        s.close()
        check(st == 404, "a function deleted while the body arrived: 404", st)


# ---- bodies to a function that exists: all of them together stay within --max-body-total ----
def body_budget():
    size = 2 * MIB
    budget = 2 * size + 64 * 1024  # two bodies fit, a third does not
    # In the sanitized build ASan's quarantine keeps every freed buffer resident for a while, so
    # the peak would count each call that ran (as earlier ones finish, more get through) instead
    # of the bodies held at once, which is what the budget bounds: this one funkd runs without
    # the quarantine (a no-op in the release build).
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + \
        "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    with Funkd("--max-body-total", str(budget)) as gw:
        if saved is None:  # funkd has started: the rest of the test runs as before
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = saved
        gw.deploy("gwtest", ELF["gwtest"])  # /count answers a few bytes, whatever the body
        head = b"POST /function/gwtest/count HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
        peak0 = vmrss(gw.proc.pid, "VmHWM")
        conns = []
        for i in range(M):  # all but the last byte, then hold
            s = connect_from("127.0.0.1", gw.port)
            push_body(s, head, size - 1)
            conns.append(s)
        for s in conns:
            s.setblocking(True)
            s.sendall(b"b")  # the last byte: those over the budget were read and dropped
        until = time.time() + 10
        answered = [status_of(s, max(0.1, until - time.time())) for s in conns]
        grown = vmrss(gw.proc.pid, "VmHWM") - peak0  # the peak while all of them were held
        # (the calls that do run copy their body several times; without the budget: +234 MiB)
        check(grown < M * size, "%d 2 MiB bodies to a function at once: funkd's peak RSS grows "
              "< %d MiB (--max-body-total %.1f MiB)" % (M, 2 * M, budget / MIB),
              "VmHWM grew %.1f MiB" % (grown / MIB))
        print("note: VmHWM grew %.1f MiB" % (grown / MIB))
        # two fit at a time (more get through as earlier ones finish and free their buffers)
        busy = [a for a in answered if a == 503]
        check(len(busy) >= M // 2 and all(a in (200, 503) for a in answered),
              "bodies over --max-body-total get 503, the others 200", answered)
        for s in conns:
            s.close()
        # their buffers are given back: a 60 KB body fits again (would not if 4 MiB leaked)
        body = os.urandom(60000)
        got = wait_for(lambda: gw.req("POST", "/function/gwtest/count", body)[0] == 200, 10)
        check(got, "the budget is free again once those connections are gone")


# ---- item 8c: bodies without credentials on a protected route --------------------------------
def bodies_without_credentials():
    a = Funkd("--auth")
    os.makedirs(os.path.join(a.state, "secrets"), exist_ok=True)
    for name, val in (("basic-auth-user", "admin"), ("basic-auth-password", "s3cret")):
        with open(os.path.join(a.state, "secrets", name), "w") as f:
            f.write(val)
    a.auth = "admin:s3cret"
    with a:
        for method, path in (("POST", "/system/functions"), ("PUT", "/system/secrets"),
                             ("POST", "/system/scale-function/x")):
            st = head_status(a.port, b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                             % (method.encode(), path.encode(), BODY))
            check(st == 401, "%s %s without credentials: 401 from the head, body unread" % (method, path), st)
        grown, answered = held_bodies(
            a, b"POST /system/functions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % BODY)
        check(grown < M * MIB, "%d unfinished 8 MiB bodies without credentials cost funkd < %d MiB"
              % (M, M), "VmRSS grew %.1f MiB" % (grown / MIB))
        check(all(x == 401 for x in answered), "each of them got 401", answered)
        # with credentials the body is still read and used
        st, _, b = a.req("POST", "/system/functions", {"service": "e", "image": ELF["echo"]})
        check(st == 202, "an authorized deploy still reads its body", (st, b))
        st, _, b = a.req("POST", "/system/functions", b"{not json")
        check(st == 400 and b"malformed" in b, "an authorized bad body still gets 400", (st, b))


for t in (busy_port, slowloris, total_limit, long_call, slow_body, unknown_function_bodies,
          body_budget, bodies_without_credentials):
    try:
        t()
    except Exception as e:  # e.g. funkd refused to start: this part fails, the others still run
        check(False, t.__name__ + " ran to the end", repr(e)[-2000:])
done()
