# SPDX-License-Identifier: Apache-2.0
"""funk-accel-agent's command line and socket activation, driven as systemd and users drive it:
--opt VALUE and --opt=VALUE, -h/--help/--version, exit 64 for every usage error; a listening
socket passed as fd 3 with LISTEN_FDS/LISTEN_PID is served (and left in place at exit), a
stray LISTEN_PID is ignored, a non-socket fd 3 is refused; --connections-fd (the private agent)
drops malformed messages, serves proper ones and ends at end of file."""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

AGENT, FUNK_ACCEL = sys.argv[1], sys.argv[2]
fails = 0


def check(cond, what, detail=""):
    global fails
    print(("ok   - " if cond else "FAIL - ") + what + ("" if cond else f": {detail}"))
    if not cond:
        fails += 1


def run(*args, env=None, timeout=20):
    p = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def wait_log(path, text, proc, secs=20):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        with open(path) as f:
            if text in f.read():
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def noop_via(sock):
    env = dict(os.environ, FUNK_ACCEL_PLUGINS="rpc", FUNK_ACCEL_RPC_ADDRESS="unix://" + sock)
    p = subprocess.run([FUNK_ACCEL, "noop", "100"], capture_output=True, text=True, env=env,
                       timeout=30)
    return p.returncode, p.stdout + p.stderr


def spawn_activated(fd3, listen_pid_offset, log, extra=()):
    """Starts the agent with fd3 as fd 3 and LISTEN_FDS=1; LISTEN_PID is the agent's own pid
    (+ listen_pid_offset, to forge another process's)."""
    logf = open(log, "w")
    # LISTEN_PID must name the agent: sh knows its own pid ($$) and exec keeps it.
    script = 'LISTEN_FDS=1 LISTEN_PID=$(($$ + %d)) exec "$@"' % listen_pid_offset
    return subprocess.Popen(["/bin/sh", "-c", script, "sh", AGENT, "--plugins", "noop",
                             "--no-seccomp", *extra],
                            stdout=logf, stderr=logf, preexec_fn=lambda: os.dup2(fd3, 3),
                            pass_fds=(fd3, 3), env=dict(os.environ, FUNK_ACCEL_LOG_LEVEL="info"))


with tempfile.TemporaryDirectory(prefix="funk-agentcli.") as t:
    # -h, --help, --version
    for h in ("-h", "--help"):
        rc, out, err = run(h)
        check(rc == 0 and out.startswith("usage: funk-accel-agent"), f"{h}: usage on stdout, exit 0",
              (rc, out[:80], err))
    rc, out, err = run("--version")
    check(rc == 0 and out.startswith("funk-accel-agent ") and out.split()[1][0].isdigit(),
          "--version", (rc, out, err))
    # usage errors: 64 with a message naming the problem, before anything is bound
    for args, word in ((["--bogus"], "--bogus"), (["--max-frame", "1"], "1"),
                       (["--max-frame=abc"], "abc"), (["--listen"], "--listen"),
                       (["--user", "nobody-at-all"], "nobody-at-all"), (["stray"], "stray"),
                       (["--listen", "ftp://x"], "ftp://x")):
        rc, out, err = run(*args)
        check(rc == 64 and word in err, f"usage error {args}: exit 64 naming {word!r}", (rc, err))
    # --opt=VALUE is the same as --opt VALUE: the agent serves on the address given that way
    sock = os.path.join(t, "eq.sock")
    log = os.path.join(t, "eq.log")
    with open(log, "w") as lf:
        p = subprocess.Popen([AGENT, f"--listen=unix://{sock}", "--plugins=noop", "--no-seccomp"],
                             stdout=lf, stderr=lf)
    try:
        check(wait_log(log, "listening on", p), "--listen=unix://... starts", open(log).read())
        rc, out = noop_via(sock)
        check(rc == 0 and "noop: 100 calls" in out, "served on the --listen= address", out)
    finally:
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=20) == 0, "SIGTERM: exit 0")

    # socket activation: the socket systemd would have made
    act = os.path.join(t, "act.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(act)
    ls.listen(16)
    log = os.path.join(t, "act.log")
    p = spawn_activated(ls.fileno(), 0, log)
    try:
        check(wait_log(log, "listening on systemd socket fd 3", p),
              "LISTEN_FDS=1: serves the inherited fd 3", open(log).read())
        rc, out = noop_via(act)
        check(rc == 0 and "noop: 100 calls" in out, "a client is served on the activated socket", out)
    finally:
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=20) == 0, "activated agent: SIGTERM exit 0")
    check(os.path.exists(act), "the activated socket's path is left to its owner (not unlinked)")

    # --listen together with inherited sockets is ambiguous: a usage error
    p = spawn_activated(ls.fileno(), 0, os.path.join(t, "both.log"),
                        extra=("--listen", "unix://" + os.path.join(t, "other.sock")))
    check(p.wait(timeout=20) == 64, "LISTEN_FDS and --listen together: exit 64",
          open(os.path.join(t, "both.log")).read())

    # LISTEN_PID naming another process: not ours, so ignored (the default --listen applies)
    other = os.path.join(t, "other.sock")
    log = os.path.join(t, "stray.log")
    p = spawn_activated(ls.fileno(), 1, log, extra=("--listen", "unix://" + other))
    try:
        check(wait_log(log, "listening on unix://" + other, p),
              "LISTEN_PID of another process: ignored, --listen used", open(log).read())
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
    ls.close()

    # fd 3 that is not a listening socket: refused with a reason, exit 1
    with open(os.path.join(t, "plain"), "w") as plain:
        log = os.path.join(t, "plain.log")
        p = spawn_activated(plain.fileno(), 0, log)
        rc = p.wait(timeout=20)
        check(rc == 1 and "not a listening stream socket" in open(log).read(),
              "LISTEN_FDS with a plain file as fd 3: refused, exit 1", (rc, open(log).read()))

    # --connections-fd (the private agent of funk-monitor and funkd): connections arrive as
    # fds on a SOCK_SEQPACKET socket. Every message that is not exactly one byte with one unix
    # stream socket is dropped (its fds closed, never served) and the agent goes on; end of
    # file on the socket ends it.
    def spawn_private(fd3, log, extra=()):
        logf = open(log, "w")
        return subprocess.Popen([AGENT, "--plugins", "noop", "--connections-fd", "3", *extra],
                                stdout=logf, stderr=logf,
                                preexec_fn=lambda: os.dup2(fd3, 3), pass_fds=(fd3, 3),
                                env=dict(os.environ, FUNK_ACCEL_LOG_LEVEL="info"))

    with open(os.path.join(t, "plain2"), "w") as plain:
        log = os.path.join(t, "cfd-plain.log")
        rc = spawn_private(plain.fileno(), log).wait(timeout=20)
        check(rc == 1 and "not a SOCK_SEQPACKET socket" in open(log).read(),
              "--connections-fd on a plain file: refused, exit 1", (rc, open(log).read()))
    rc, out, err = run("--connections-fd", "3", "--listen", "unix://" + os.path.join(t, "x"))
    check(rc == 64 and "--connections-fd" in err, "--connections-fd with --listen: exit 64",
          (rc, err))
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    log = os.path.join(t, "cfd.log")
    p = spawn_private(child.fileno(), log)
    child.close()
    try:
        dropped = []
        a, b = socket.socketpair()  # 1: one byte, no fd
        parent.send(b"c")
        a2, b2 = socket.socketpair()  # 2: two bytes (cut to one) with a stream socket
        socket.send_fds(parent, [b"cc"], [b2.fileno()])
        dropped.append(a2)
        a3, b3 = socket.socketpair()  # 3: one byte, two stream sockets
        a4, b4 = socket.socketpair()
        socket.send_fds(parent, [b"c"], [b3.fileno(), b4.fileno()])
        dropped += [a3, a4]
        d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)  # 4: not a stream
        socket.send_fds(parent, [b"c"], [d2.fileno()])
        rp, wp = os.pipe()  # 5: not a socket
        socket.send_fds(parent, [b"c"], [rp])
        os.close(rp)
        for x in (b2, b3, b4, d2):
            x.close()
        # every dropped stream socket was closed by the agent, not served: our end reads EOF
        for x in dropped:
            x.settimeout(10)
            try:
                got = x.recv(1)
            except OSError as e:
                got = repr(e)
            check(got == b"", "--connections-fd: a malformed message's socket is closed", got)
        # then a proper one is served: SESSION_NEW answers a session id
        good, theirs = socket.socketpair()
        socket.send_fds(parent, [b"c"], [theirs.fileno()])
        theirs.close()
        good.settimeout(10)
        good.sendall(struct.pack("<IHHIIQ", 0x50414B46, 1, 1, 0, 0, 7))
        h = good.recv(24, socket.MSG_WAITALL)
        check(len(h) == 24 and struct.unpack("<IHHIIQ", h)[5] == 7,
              "--connections-fd: after 5 malformed messages a proper connection is served", h)
        check(open(log).read().count("dropped a message") == 5,
              "--connections-fd: each malformed message logged once", open(log).read())
        good.close()
        a.close()
        b.close()
        parent.close()  # end of file: the agent ends, exit 0
        rc = p.wait(timeout=20)
        check(rc == 0 and "parent gone" in open(log).read(),
              "--connections-fd: end of file on the socket ends the agent, exit 0",
              (rc, open(log).read()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

if fails:
    print(f"agent_cli: {fails} failure(s)")
    sys.exit(1)
print("agent_cli: all checks passed")
