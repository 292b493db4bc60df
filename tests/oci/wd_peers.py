#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Misbehaving peers of funk-watchdog for tests/oci/watchdog.sh: clients that stall or trickle,
# a client that never reads its answer, an upstream that never reads or never answers.
# Each client prints one line: what it got and how long it took ("408 1.02").
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
    else:
        sys.exit("unknown command " + cmd)
