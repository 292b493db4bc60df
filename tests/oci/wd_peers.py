#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Misbehaving peers of funk-watchdog for tests/oci/watchdog.sh: clients that stall or trickle,
# a client that never reads its answer, an upstream that never reads or never answers; for
# keep-alive: a client that sends several requests over one connection, and an upstream that
# keeps its connections open and numbers them.
# Each stalling client prints one line: what it got and how long it took ("408 1.02").
import socket
import sys
import time


def status_of(s, limit):
    """First status code the watchdog sends back within limit seconds, or CLOSED/NONE."""
    s.settimeout(limit)
    try:
        data = s.recv(200)
    except socket.timeout:
        return "NONE"
    except ConnectionResetError:
        return "CLOSED"
    if not data:
        return "CLOSED"
    parts = data.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else "GARBAGE"


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def stall(port, limit):
    """Sends half a request head, then nothing."""
    s = connect(port)
    t0 = time.monotonic()
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
    print(status_of(s, limit), "%.2f" % (time.monotonic() - t0))


def stall_body(port, limit):
    """Sends the head and 10 of the 100 body bytes it announced, then nothing."""
    s = connect(port)
    t0 = time.monotonic()
    s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789")
    print(status_of(s, limit), "%.2f" % (time.monotonic() - t0))


def trickle(port, limit):
    """Sends a header byte every 0.2 s: each read is quick, the request never completes."""
    s = connect(port)
    t0 = time.monotonic()
    s.sendall(b"POST / HTTP/1.1\r\nX-Slow: ")
    s.setblocking(False)
    while time.monotonic() - t0 < limit:
        try:
            data = s.recv(200)
            if not data:
                print("CLOSED", "%.2f" % (time.monotonic() - t0))
                return
            print(data.split(b" ", 2)[1].decode(), "%.2f" % (time.monotonic() - t0))
            return
        except BlockingIOError:
            pass
        except ConnectionResetError:
            print("CLOSED", "%.2f" % (time.monotonic() - t0))
            return
        try:
            s.send(b"a")
        except (BrokenPipeError, ConnectionResetError):
            print("CLOSED", "%.2f" % (time.monotonic() - t0))
            return
        time.sleep(0.2)
    print("NONE", "%.2f" % (time.monotonic() - t0))


def no_read(port, hold, ready_file):
    """Sends a complete request, never reads the answer, holds the connection for hold s."""
    s = connect(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx")
    open(ready_file, "w").close()
    time.sleep(hold)


def upstream(port_file, behaviour):
    """An http-mode upstream on a port the kernel picks (written to port_file once listening):
    'noread' accepts and never reads; 'headers' reads the request, sends a status line and
    headers, then nothing."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    held = []
    while True:
        c, _ = ls.accept()
        held.append(c)
        if behaviour == "headers":
            c.settimeout(5)
            try:
                c.recv(65536)
            except socket.timeout:
                pass
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")


def read_response(f):
    """One response from the file-like f: (status, headers dict lower-case, body) or None when
    the connection closed first. Body by Content-Length, chunks, or up to the close."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split(b" ", 2)[1])
    hdrs = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode().partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "chunked" in hdrs.get("transfer-encoding", ""):
        body = b""
        while True:
            n = int(f.readline().split(b";")[0], 16)
            if n == 0:
                f.readline()
                break
            body += f.read(n)
            f.readline()
    elif "content-length" in hdrs:
        body = f.read(int(hdrs["content-length"]))
    else:
        body = f.read()
    return status, hdrs, body


def session(port, reqs):
    """Sends each request in reqs over ONE connection, one after the other, and prints one line
    per answer: 'STATUS CONNECTION-HEADER BODY'; 'CLOSED' when the watchdog closed the
    connection before answering. Last line: 'closed' when the connection ended after the last
    answer, 'open' when it stays open. A request: 'METHOD PATH [BODY]'; method CHUNKED sends a
    POST whose body goes in chunks split on commas; CLOSE sends Connection: close; HTTP10 a bare
    HTTP/1.0 POST."""
    s = connect(port)
    f = s.makefile("rb")
    for spec in reqs:
        method, path, body = (spec.split(" ", 2) + [""])[:3]
        if method == "CHUNKED":
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c.encode()) for c in body.split(","))
            raw = (b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s0\r\n\r\n"
                   % (path.encode(), chunks))
        else:
            version, extra = b"HTTP/1.1", b""
            if method == "CLOSE":
                method, extra = "POST", b"Connection: close\r\n"
            elif method == "HTTP10":
                method, version = "POST", b"HTTP/1.0"
            b = body.encode()
            raw = b"%s %s %s\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s" % (
                method.encode(), path.encode(), version, extra, len(b), b)
        try:
            s.sendall(raw)
            r = read_response(f)
        except (BrokenPipeError, ConnectionResetError):
            r = None
        if r is None:
            print("CLOSED")
            return
        status, hdrs, got = r
        print(status, hdrs.get("connection", "-"), got.decode(errors="replace"))
    sys.stdout.flush()
    s.settimeout(0.5)  # a kept connection shows nothing; a closed one reads EOF at once
    try:
        print("closed" if f.read1(1) == b"" else "data")
    except socket.timeout:
        print("open")
    except ConnectionResetError:
        print("closed")


def keepalive_upstream(port_file):
    """An http-mode upstream that keeps every connection open (HTTP/1.1, answers framed by
    Content-Length or chunks) and numbers its connections. Paths: /echo answers
    'conn=K req=I body=...' (K: connection number, I: request number on it); /chunked the same
    in three chunks; /slow sleeps 3 s first; /flaky closes a connection that already served a
    request without answering, the first time only."""
    import os
    import threading
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    lock = threading.Lock()
    state = {"conns": 0, "dropped": set()}

    def serve(c, k):
        f = c.makefile("rb")
        n = 0
        while True:
            line = f.readline()
            if not line:
                return
            method, path = line.split(b" ")[:2]
            hdrs = {}
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                a, _, v = line.decode().partition(":")
                hdrs[a.strip().lower()] = v.strip()
            body = f.read(int(hdrs.get("content-length", "0")))
            n += 1
            if path.startswith(b"/flaky") and n > 1:
                with lock:
                    drop = path not in state["dropped"]
                    state["dropped"].add(path)
                if drop:
                    c.close()
                    return
            if path.startswith(b"/slow"):
                time.sleep(3)
            out = b"conn=%d req=%d body=%s" % (k, n, body)
            if path.startswith(b"/chunked"):
                parts = [out[:3], out[3:6], out[6:]]
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: chunked\r\n\r\n" +
                          b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n")
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Up: 1\r\n\r\n%s" % (len(out), out))

    while True:
        c, _ = ls.accept()
        with lock:
            state["conns"] += 1
            k = state["conns"]
        threading.Thread(target=serve, args=(c, k), daemon=True).start()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "stall":
        stall(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "stall-body":
        stall_body(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "trickle":
        trickle(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "no-read":
        no_read(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    elif cmd == "upstream":
        upstream(sys.argv[2], sys.argv[3])
    elif cmd == "session":
        session(int(sys.argv[2]), sys.argv[3:])
    elif cmd == "keepalive-upstream":
        keepalive_upstream(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)
