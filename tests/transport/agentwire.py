# SPDX-License-Identifier: Apache-2.0
# What the transport's Python tests share: funk's rpc frame header, reading frames, the
# ok/FAIL tally, and a funk-accel-agent started on a unix socket.
import os
import socket
import struct
import subprocess
import time

MAGIC, VERSION, HDR = 0x50414B46, 1, 24
fails = 0


def check(cond, what):
    global fails
    print(("ok   - " if cond else "FAIL - ") + what, flush=True)
    if not cond:
        fails += 1


def frame(ftype, payload=b"", fid=1, flags=0, version=VERSION, length=None, magic=MAGIC):
    n = len(payload) if length is None else length
    return struct.pack("<IHHIIQ", magic, version, ftype, flags, n, fid) + payload


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def recv_exact(s, n):
    """n bytes, or None when the agent closed the connection first."""
    b = b""
    while len(b) < n:
        try:
            c = s.recv(n - len(b))
        except ConnectionResetError:  # the agent closed with our unread bytes queued
            return None
        if not c:
            return None
        b += c
    return b


def read_reply(s):
    """(type, flags, id, status, body) or None when the agent closed the connection."""
    h = recv_exact(s, HDR)
    if h is None:
        return None
    magic, ver, ftype, flags, n, fid = struct.unpack("<IHHIIQ", h)
    assert magic == MAGIC and ver == VERSION, "agent sent a bad header"
    p = recv_exact(s, n)
    assert p is not None, "agent closed the connection inside a frame"
    status = struct.unpack("<i", p[:4])[0]
    return ftype, flags, fid, status, p[8:]


def start_agent(agent, path, args, log):
    """funk-accel-agent listening on unix://path (logging at info into log), once its socket
    is there; None (and the log printed) when it is not within 10 s."""
    proc = subprocess.Popen([agent, "--listen", "unix://" + path] + args, stderr=log,
                            env=dict(os.environ, FUNK_ACCEL_LOG_LEVEL="info"))
    deadline = time.monotonic() + 10
    while not os.path.exists(path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if os.path.exists(path):
        return proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    log.seek(0)
    print("agent did not start: " + log.read())
    return None
