# SPDX-License-Identifier: Apache-2.0
# Helpers for the funkd end-to-end tests: start the real funkd on a free port, speak HTTP to it.
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

FUNKD = os.environ.get("FUNKD", "")
FUNK_CLI = os.environ.get("FUNK_CLI", "")
ELF = {k: os.environ.get(v, "") for k, v in [("echo", "ECHO_ELF"), ("gwtest", "GWTEST_ELF"),
                                              ("hello", "HELLO_ELF"), ("loop", "LOOP_ELF"),
                                              ("abort", "ABORT_ELF")]}

failures = []
live = []  # running Funkd instances: their logs and children are shown when a check fails


def _proc_state(pid):
    """State letter and wait channel of a process (best effort)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open("/proc/%d/wchan" % pid) as f:
            return "state %s, wchan %s" % (state, f.read().strip() or "-")
    except (OSError, IndexError) as e:
        return "(no /proc info: %s)" % e


def diagnose():
    """Prints what the running funkd processes were doing: their children (pre-booted and
    running guests) with state and wait channel, and funkd's log."""
    for gw in live:
        if not gw.proc or gw.proc.poll() is not None:
            continue
        pid = gw.proc.pid
        print("---- funkd pid %d (port %d): %s" % (pid, gw.port, _proc_state(pid)), flush=True)
        try:
            kids = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid=,stat=,etimes=,wchan:30=,cmd="],
                                  capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError) as e:
            kids = "(ps failed: %s)\n" % e
        print("---- its children (pid stat elapsed-s wchan cmd):\n" + (kids or "(none)\n"), end="")
        print("---- funkd log:\n" + gw.logtext()[-20000:] + "\n---- end of funkd log", flush=True)


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(77)


def need_kvm():
    """Skips (77) only when a run forced onto the kvm backend has no working /dev/kvm; otherwise
    funkd's auto isolation uses the process backend where KVM is missing."""
    if not FUNKD or not os.path.exists(FUNKD):
        print("FAIL: FUNKD is not set to the funkd binary")
        sys.exit(1)
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
    except OSError as e:
        if "kvm" in os.environ.get("GW_FUNKD_ARGS", ""):
            skip("/dev/kvm does not work here (%s): the kvm-backend run cannot run unikernels" % e)
        print("note: /dev/kvm does not work here (%s): functions run under the process backend" % e)


def check(cond, what, detail=""):
    if cond:
        print("ok   " + what, flush=True)
    else:
        print("FAIL " + what + (": " + str(detail) if detail != "" else ""), flush=True)
        failures.append(what)
        diagnose()


def done():
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def free_port():
    """A port the kernel says is free now. Someone else may take it before funkd binds it: Funkd
    retries with a new one when funkd reports the address in use (see Funkd.start)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def dead_port():
    """(socket, port): a port bound and never listened on, held by the caller for as long as it
    keeps the socket: connecting is refused, and nobody else can start listening there."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


ADDR_IN_USE = re.compile(r"in use|EADDRINUSE", re.I)
START_TRIES = 5


class Funkd:
    """A funkd process with its own state dir and port."""

    def __init__(self, *args, state=None, port=None, auth=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="funkd-test-")
        self.state = state or os.path.join(self.tmp.name, "state")
        self.fixed_port = port is not None  # a caller's port is never swapped for another
        self.port = port or free_port()
        # GW_FUNKD_ARGS: extra options for every funkd of a test (e.g. "--isolation kvm")
        self.args = os.environ.get("GW_FUNKD_ARGS", "").split() + list(args)
        self.auth = auth
        self.proc = None
        self.log = os.path.join(self.tmp.name, "funkd.log")

    def _spawn(self):
        cmd = [FUNKD, "--listen", "127.0.0.1:%d" % self.port, "--state-dir", self.state] + self.args
        if getattr(self, "logf", None):
            self.logf.close()
        self.logf = open(self.log, "ab")
        self.log_from = self.logf.tell()
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        if self not in live:
            live.append(self)

    def start(self, wait=True):
        """Starts funkd and (wait) returns once it answers /healthz. The port came from
        free_port() and another process may have bound it in between: when funkd exits at
        start-up saying the address is in use, it is started again on a fresh port (up to
        START_TRIES times), unless the caller chose the port."""
        for attempt in range(1, START_TRIES + 1):
            self._spawn()
            if not wait:
                return self
            deadline = time.time() + 20
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if self.req("GET", "/healthz", timeout=1)[0] == 200 and self.proc.poll() is None:
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                raise RuntimeError("funkd did not answer /healthz within 20 s:\n" + self.logtext())
            text = self.logtext()[self.log_from:]
            if ADDR_IN_USE.search(text) and not self.fixed_port and attempt < START_TRIES:
                old, self.port = self.port, free_port()
                print("note: port %d was taken before funkd bound it (%s); retrying on %d"
                      % (old, text.strip().splitlines()[-1] if text.strip() else "", self.port), flush=True)
                continue
            raise RuntimeError("funkd exited with %d:\n%s" % (self.proc.returncode, self.logtext()))
        raise RuntimeError("unreachable")

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def logs(self, name, tail=None):
        """The function's log lines (texts) from GET /system/logs."""
        q = "/system/logs?name=" + name + ("&tail=%d" % tail if tail is not None else "")
        st, _, b = self.req("GET", q)
        if st != 200:
            return []
        return [json.loads(x)["text"] for x in b.decode(errors="replace").splitlines() if x]

    def wait_log(self, name, text, timeout=20.0):
        """Waits (bounded) until a log line of the function contains text: the event a test
        waits on instead of sleeping (e.g. gwtest's /hold says "gwtest: holding QUERY")."""
        return wait_for(lambda: any(text in t for t in self.logs(name)), timeout, 0.02)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                import shutil
                if shutil.which("gdb"):  # show where it hangs before killing it
                    r = subprocess.run(["gdb", "-batch", "-p", str(self.proc.pid), "-ex", "thread apply all bt"],
                                       capture_output=True, text=True, timeout=60)
                    print(r.stdout[-20000:])
                self.proc.kill()
                self.proc.wait()
                check(False, "funkd stops within 20 s of SIGTERM")
            log = self.logtext()
            bad = [w for w in ("AddressSanitizer", "LeakSanitizer", "runtime error:") if w in log]
            check(not bad and self.proc.returncode == 0, "funkd exits cleanly, no sanitizer report",
                  (self.proc.returncode, bad, log[-2000:] if bad else ""))
        self.proc = None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def req(self, method, path, body=None, headers=None, timeout=60, auth=True):
        h = dict(headers or {})
        if self.auth and auth and "Authorization" not in h:
            h["Authorization"] = "Basic " + base64.b64encode(self.auth.encode()).decode()
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def deploy(self, name, image, labels=None, env=None, secrets=None, memory=None, method="POST"):
        spec = {"service": name, "image": image}
        if labels:
            spec["labels"] = labels
        if env:
            spec["envVars"] = env
        if secrets:
            spec["secrets"] = secrets
        if memory:
            spec["limits"] = {"memory": memory}
        st, _, b = self.req(method, "/system/functions", spec)
        if st not in (200, 202):
            raise RuntimeError("deploy %s: %d %s" % (name, st, b))

    def status(self, name):
        st, _, b = self.req("GET", "/system/function/" + name)
        return json.loads(b) if st == 200 else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.tmp.cleanup()


def wait_for(fn, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()
