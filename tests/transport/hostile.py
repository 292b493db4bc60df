#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Hostile peers against the real funk-accel-agent: garbage, truncated, oversized and malformed
# frames, unknown types, limits; the agent answers or closes, and keeps serving other clients.
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

import agentwire
from agentwire import check, connect, frame, read_reply

AGENT, TCLIENT = sys.argv[1], sys.argv[2]
T_SESSION_NEW, T_NOOP, T_RES_PUT, T_EXEC, T_STATS = 1, 7, 4, 8, 14
F_REPLY, F_ERROR = 1, 2
ERRNO = {"EPROTO": 71, "EMSGSIZE": 90, "ENOSYS": 38, "EBADMSG": 74, "EPROTONOSUPPORT": 93,
         "EMFILE": 24, "EBADF": 9}


def closed(s):
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def noop_works(addr, what):
    r = subprocess.run([TCLIENT, "noop", "5"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, FUNK_ACCEL_PLUGINS="rpc", FUNK_ACCEL_RPC_ADDRESS=addr))
    check(r.returncode == 0 and "noop: 5 calls" in r.stdout,
          "agent still serves other clients after " + what + (r.stderr.strip() and ": " + r.stderr.strip()))


def main():
    tmp = tempfile.mkdtemp(prefix="funk-hostile.")
    path = os.path.join(tmp, "a.sock")
    addr = "unix://" + path
    log = open(os.path.join(tmp, "agent.log"), "w+")
    agent = agentwire.start_agent(AGENT, path, ["--plugins", "noop", "--max-frame", "65536",
                                                "--max-sessions", "2", "--frame-timeout", "500"],
                                  log)
    check(agent is not None, "agent listening on " + addr)
    if agent is None:
        return 1
    try:
        # A peer that stays connected and well-behaved during the whole attack.
        good = connect(path)
        good.sendall(frame(T_SESSION_NEW, fid=100))
        r = read_reply(good)
        check(r is not None and r[3] == 0 and r[1] == F_REPLY and r[2] == 100, "good client session")
        good_sid = struct.unpack("<I", r[4][:4])[0]

        # Garbage: not a frame. Error reply -EPROTO, then the connection is closed.
        s = connect(path)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EPROTO"] and r[1] == F_REPLY | F_ERROR,
              "garbage -> -EPROTO error reply")
        check(closed(s), "garbage -> connection closed")
        s.close()
        noop_works(addr, "garbage")

        # Random bytes (seeded) with a valid-looking start: still refused, never a crash.
        import random
        rnd = random.Random(4)
        for i in range(20):
            s = connect(path)
            blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 200)))
            s.sendall(blob)
            s.shutdown(socket.SHUT_WR)
            while read_reply(s) is not None:
                pass
            s.close()
        noop_works(addr, "20 random-byte clients")

        # Oversized: a header announcing more than --max-frame. -EMSGSIZE, closed, nothing read.
        s = connect(path)
        s.sendall(frame(T_RES_PUT, length=65537, fid=7))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EMSGSIZE"] and r[2] == 7, "oversized frame -> -EMSGSIZE")
        check(closed(s), "oversized frame -> connection closed")
        s.close()
        s = connect(path)
        s.sendall(frame(T_RES_PUT, length=0xFFFFFFFF))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EMSGSIZE"], "4 GiB length -> -EMSGSIZE")
        s.close()

        # Truncated: the header promises 100 bytes, 10 come, the peer leaves.
        s = connect(path)
        s.sendall(frame(T_NOOP, length=100) + b"x" * 10)
        s.close()
        # Truncated and stalled: the agent gives up after --frame-timeout (500 ms) and closes.
        s = connect(path)
        s.sendall(frame(T_NOOP, length=100)[:13])
        t0 = time.time()
        check(closed(s), "stalled half header -> closed by the agent")
        check(time.time() - t0 < 5, "... after the frame timeout (%.1f s)" % (time.time() - t0))
        s.close()
        noop_works(addr, "truncated frames")

        # Framing intact but the content is wrong: error reply, the connection keeps working.
        s = connect(path)
        s.sendall(frame(999, b"", fid=11))
        r = read_reply(s)
        check(r is not None and r[0] == 999 and r[2] == 11 and r[3] == -ERRNO["ENOSYS"],
              "unknown message type -> -ENOSYS, same id")
        s.sendall(frame(T_NOOP, b"\x01\x00", fid=12))  # payload too short
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EBADMSG"], "truncated payload -> -EBADMSG")
        bad_str = struct.pack("<IIII", 1, 0, 2, 0) + b"ab" + b"\0" * 6 + struct.pack("<IIII", 0, 0, 0, 0)
        s.sendall(frame(T_EXEC, bad_str, fid=13))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EBADMSG"], "string without NUL -> -EBADMSG")
        s.sendall(frame(T_NOOP, struct.pack("<II", 1, 0), fid=14, version=2))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EPROTONOSUPPORT"], "protocol version 2 -> -EPROTONOSUPPORT")
        s.sendall(frame(T_NOOP, struct.pack("<iI", 0, 0), fid=15, flags=F_REPLY))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EPROTO"], "a reply sent to the agent -> -EPROTO")
        s.sendall(frame(T_NOOP, struct.pack("<II", 42, 0), fid=16))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EBADF"], "noop on a session that does not exist -> -EBADF")
        s.sendall(frame(T_NOOP, struct.pack("<II", good_sid, 0), fid=17))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EBADF"], "another connection's session id -> -EBADF")
        # Session limit (--max-sessions 2).
        codes = []
        for i in range(3):
            s.sendall(frame(T_SESSION_NEW, fid=20 + i))
            codes.append(read_reply(s)[3])
        check(codes == [0, 0, -ERRNO["EMFILE"]], "third session on one connection -> -EMFILE %s" % codes)
        s.sendall(frame(T_NOOP, struct.pack("<II", 1, 0), fid=30))
        r = read_reply(s)
        check(r is not None and r[3] == 0 and r[2] == 30, "connection still usable after errors")
        s.close()

        # A resource whose bytes do not match the hash it claims is refused.
        put = struct.pack("<II", 2, 0) + b"\x11" * 32 + struct.pack("<II", 3, 0) + b"abc" + b"\0" * 5
        s = connect(path)
        s.sendall(frame(T_RES_PUT, put, fid=40))
        r = read_reply(s)
        check(r is not None and r[3] == -ERRNO["EBADMSG"], "resource with a wrong hash -> -EBADMSG")
        s.close()

        # The good client was never disturbed.
        good.sendall(frame(T_NOOP, struct.pack("<II", good_sid, 0), fid=101))
        r = read_reply(good)
        check(r is not None and r[3] == 0 and r[2] == 101, "long-lived good client unaffected")
        good.sendall(frame(T_STATS, fid=102))
        r = read_reply(good)
        st = struct.unpack("<8Q", r[4])
        check(st[6] >= 10, "agent counted the malformed frames (%d)" % st[6])
        good.close()

        agent.terminate()
        rc = agent.wait(timeout=20)
        check(rc == 0, "agent exits 0 on SIGTERM after the attack")
    finally:
        if agent.poll() is None:
            agent.kill()
        log.seek(0)
        text = log.read()
        if agentwire.fails:
            print("---- agent log ----\n" + text)
        log.close()
    print("hostile: %d failure(s)" % agentwire.fails)
    return 1 if agentwire.fails else 0


if __name__ == "__main__":
    sys.exit(main())
