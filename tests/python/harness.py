# SPDX-License-Identifier: Apache-2.0
"""Shared set-up of the Python binding tests and bench: the environment that loads the built
funk_accel package (and, in a sanitized tree, ASan's runtime before python3 so the extension can
load), the operator's exec directory, and a funk-accel-agent on a private unix socket for the
rpc plugin."""
import os
import selectors
import shutil
import subprocess
import tempfile
import time

DOG = "/usr/share/darknet/data/dog.jpg"


def sanitizer_preload(ext_dir):
    """The ASan runtime the built extension links (ldd), or None for an unsanitized build."""
    for name in sorted(os.listdir(ext_dir)):
        if name.startswith("_native") and name.endswith(".so"):
            out = subprocess.run(["ldd", os.path.join(ext_dir, name)], capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                parts = line.split()
                if parts and parts[0].startswith("libasan.so") and len(parts) >= 3:
                    return parts[2]
    return None


def child_env(package_dir, plugins, extra=None):
    """Environment for a python3 that imports funk_accel from package_dir (its parent) with
    FUNK_ACCEL_PLUGINS=plugins; LD_PRELOAD carries ASan when the extension needs it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = package_dir + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["FUNK_ACCEL_PLUGINS"] = plugins
    asan = sanitizer_preload(os.path.join(package_dir, "funk_accel"))
    if asan:
        env["LD_PRELOAD"] = asan
        # CPython keeps objects alive at exit on purpose: leak reports would be its own.
        env["ASAN_OPTIONS"] = "detect_leaks=0:" + env.get("ASAN_OPTIONS", "")
    env.update(extra or {})
    return env


class Agent:
    """funk-accel-agent serving `plugins` on unix://<tmp>/accel.sock with <tmp>/exec as the
    operator's exec directory; started in __enter__, stopped (SIGTERM, then kill) in __exit__."""

    def __init__(self, agent, plugins, exec_libs=(), deadline_s=30):
        self.agent, self.plugins, self.exec_libs, self.deadline_s = agent, plugins, exec_libs, deadline_s
        self.tmp = tempfile.mkdtemp(prefix="funk-pytest.")
        self.exec_dir = os.path.join(self.tmp, "exec")
        self.address = "unix://" + os.path.join(self.tmp, "accel.sock")
        self.proc = None
        self.log = []

    def __enter__(self):
        os.makedirs(self.exec_dir)
        for src, name in self.exec_libs:
            shutil.copyfile(src, os.path.join(self.exec_dir, name))
        env = dict(os.environ, FUNK_ACCEL_LOG_LEVEL="info")
        env.pop("FUNK_ACCEL_PLUGINS", None)
        self.proc = subprocess.Popen(
            [self.agent, "--listen", self.address, "--plugins", self.plugins, "--exec-dir",
             self.exec_dir], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        # Wait on the event (the "listening on" line), bounded by a deadline.
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stderr, selectors.EVENT_READ)
        end = time.monotonic() + self.deadline_s
        buf = b""
        while time.monotonic() < end:
            if not sel.select(timeout=max(0.0, end - time.monotonic())):
                break
            chunk = os.read(self.proc.stderr.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            if b"listening on" in buf:
                sel.close()
                self.log.append(buf.decode(errors="replace"))
                return self
        sel.close()
        self.__exit__(None, None, None)
        raise RuntimeError("funk-accel-agent did not start: " + buf.decode(errors="replace"))

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False
