#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The agent's content cache on the wire: LRU eviction under --cache-max, blobs in use never
# evicted, -ENOSPC when everything is in use; and tenants: one client's upload is invisible to
# another (RES_HAVE says absent, REGISTER by the hash says -ENOENT, as for a hash nobody sent).
import hashlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

AGENT = sys.argv[1]
MAGIC, VERSION, HDR = 0x50414B46, 1, 24
T_SESSION_NEW, T_RES_HAVE, T_RES_PUT, T_REGISTER, T_UNREGISTER, T_STATS = 1, 3, 4, 5, 6, 14
T_DATA = 2
ENOENT, ENOSPC, EBADMSG = 2, 28, 74
BLOB = 1000
fails = 0


def check(cond, what):
    global fails
    print(("ok   - " if cond else "FAIL - ") + what, flush=True)
    if not cond:
        fails += 1


def pad8(b):
    return b + b"\0" * (-len(b) % 8)


def bytes_field(b):
    return struct.pack("<II", len(b), 0) + pad8(b)


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.next = 1

    def call(self, ftype, payload=b""):
        fid = self.next
        self.next += 1
        self.s.sendall(struct.pack("<IHHIIQ", MAGIC, VERSION, ftype, 0, len(payload), fid) + payload)
        h = self.recv(HDR)
        magic, ver, rtype, flags, n, rid = struct.unpack("<IHHIIQ", h)
        assert magic == MAGIC and rtype == ftype and rid == fid, "bad reply header"
        p = self.recv(n)
        return struct.unpack("<i", p[:4])[0], p[8:]

    def recv(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise ConnectionError("agent closed the connection")
            b += c
        return b

    def session(self):
        st, body = self.call(T_SESSION_NEW)
        assert st == 0, "SESSION_NEW: %d" % st
        return struct.unpack("<I", body[:4])[0]

    def have(self, h):
        st, body = self.call(T_RES_HAVE, h)
        assert st == 0, "RES_HAVE: %d" % st
        return struct.unpack("<I", body[:4])[0] == 1

    def put(self, data, h=None):
        h = h or hashlib.sha256(data).digest()
        return self.call(T_RES_PUT, struct.pack("<II", T_DATA, 0) + h + bytes_field(data))[0]

    def register(self, sid, h):
        st, body = self.call(T_REGISTER, struct.pack("<II", sid, T_DATA) + h + struct.pack("<II", 0, 0))
        return st, (struct.unpack("<I", body[:4])[0] if st == 0 else 0)

    def unregister(self, sid, rid):
        return self.call(T_UNREGISTER, struct.pack("<II", sid, rid))[0]

    def stats(self):
        st, body = self.call(T_STATS)
        return struct.unpack("<8Q", body[:64])

    def close(self):
        self.s.close()


def blob(tag):
    return bytes([tag]) * BLOB


def sha(b):
    return hashlib.sha256(b).digest()


tmp = tempfile.mkdtemp(prefix="funk-cache.")
sock = os.path.join(tmp, "accel.sock")
log = open(os.path.join(tmp, "agent.log"), "w+")
# Room for exactly three blobs.
agent = subprocess.Popen([AGENT, "--listen", "unix://" + sock, "--plugins", "noop",
                          "--cache-max", str(3 * BLOB)], stderr=log,
                         env=dict(os.environ, FUNK_ACCEL_LOG_LEVEL="info"))
try:
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and agent.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not os.path.exists(sock):
        log.seek(0)
        print("agent did not start: " + log.read())
        sys.exit(1)

    # ---- LRU order, in-use blobs kept, ENOSPC -------------------------------------------------
    c = Client(sock)
    sid = c.session()
    A, B, C, D, E, F, G = (blob(i) for i in range(1, 8))
    for x in (A, B, C):
        check(c.put(x) == 0, "put %d bytes" % BLOB)
    check(c.stats()[3:5] == (3, 3 * BLOB), "three blobs cached: %s" % (c.stats()[3:5],))
    check(c.have(sha(A)), "A cached (and now the most recently used)")
    check(c.put(D) == 0, "put D beyond --cache-max: evicts")
    check(not c.have(sha(B)), "the least recently used blob (B) went first")
    check(c.have(sha(C)) and c.have(sha(A)) and c.have(sha(D)), "A, C, D stay")
    # Order now (oldest first): C A D. C in use from here on.
    st, rid_c = c.register(sid, sha(C))
    check(st == 0, "register C (in use from now on)")
    check(c.put(E) == 0, "put E: evicts the oldest unused blob")
    check(not c.have(sha(A)) and c.have(sha(C)), "A (oldest unused) evicted, C (older but in use) kept")
    st_d, rid_d = c.register(sid, sha(D))
    st_e, rid_e = c.register(sid, sha(E))
    check(st_d == 0 and st_e == 0, "register D and E: every cached blob is in use")
    check(c.put(F) == -ENOSPC, "put F with every blob in use -> -ENOSPC")
    check(c.have(sha(C)) and c.have(sha(D)) and c.have(sha(E)) and not c.have(sha(F)),
          "nothing in use was evicted for it")
    check(c.put(blob(9) * 4) == -ENOSPC, "a blob bigger than --cache-max -> -ENOSPC")
    check(c.unregister(sid, rid_d) == 0, "unregister D")
    check(c.put(F) == 0, "put F again: D, now unused, makes room")
    check(not c.have(sha(D)) and c.have(sha(F)) and c.have(sha(C)) and c.have(sha(E)),
          "D evicted; C and E (in use) kept")
    check(c.put(G, h=sha(A)) == -EBADMSG, "bytes that do not match their hash -> -EBADMSG")

    # ---- Tenants: a second client sees none of the first one's uploads -------------------------
    other = Client(sock)
    osid = other.session()
    check(not other.have(sha(C)), "second client: RES_HAVE of the first one's blob says absent")
    st, _ = other.register(osid, sha(C))
    check(st == -ENOENT, "second client: REGISTER by the first one's hash -> -ENOENT (%d)" % st)
    check(other.put(G, h=sha(C)) == -EBADMSG, "second client: other bytes under that hash -> -EBADMSG")
    st, _ = other.register(osid, sha(C))
    check(st == -ENOENT, "... and still cannot register it")
    # With the real bytes it has proven it holds the content: now it may use it, stored once.
    entries = c.stats()[3]
    check(other.put(C) == 0 and other.have(sha(C)), "second client sends C's bytes itself: now visible to it")
    st, _ = other.register(osid, sha(C))
    check(st == 0, "second client registers its own upload")
    check(c.stats()[3] == entries, "the blob is stored once (%d entries)" % c.stats()[3])
    # The first client's registrations are unaffected; a third client still sees nothing.
    third = Client(sock)
    check(not third.have(sha(C)) and not third.have(sha(E)), "third client sees neither upload")
    third.close()
    other.close()
    c.close()
finally:
    agent.terminate()
    rc = agent.wait(timeout=20)
    check(rc == 0, "agent exits 0 on SIGTERM (%d)" % rc)
    log.close()
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)

print("agent cache: %d failure(s)" % fails)
sys.exit(1 if fails else 0)
