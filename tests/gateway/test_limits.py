# SPDX-License-Identifier: Apache-2.0
# OpenFaaS limits on funkd's process-backend guests: limits.cpu and limits.memory of a deploy
# become the CPU bandwidth and memory limit of each guest process's own cgroup (created by funkd,
# joined by the guest before it drops to uid 65534); a bad quantity is a 400 at deploy; the
# cgroup is removed when the call ends.
import glob
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import Funkd, check, done, skip  # noqa: E402

BUSYBOX = "/bin/busybox"
if os.geteuid() != 0:
    skip("per-guest cgroups need funkd to run as root (uid %d here)" % os.geteuid())
if not os.path.exists(BUSYBOX) or "statically linked" not in subprocess.run(
        ["file", "-L", BUSYBOX], capture_output=True, text=True).stdout:
    skip("%s is not Debian's busybox-static (apt-get install busybox-static)" % BUSYBOX)
if not any(l.split()[2] in ("cgroup", "cgroup2") for l in open("/proc/mounts")):
    skip("no cgroup file system is mounted on this host")


def guest_cgroups(funkd_pid):
    """{controller-or-'': dir} of the first child of funkd that sits in a funk-*/g* cgroup."""
    for task in glob.glob("/proc/%d/task/*/children" % funkd_pid):
        try:
            kids = open(task).read().split()
        except OSError:
            continue
        for k in kids:
            try:
                lines = open("/proc/%s/cgroup" % k).read().splitlines()
            except OSError:
                continue
            if not any(re.search(r"/funk-\d+/g\d+$", l) for l in lines):
                continue
            dirs = {}
            for l in lines:
                _, ctls, path = l.split(":", 2)
                for c in (ctls.split(",") if ctls else [""]):
                    base = "/sys/fs/cgroup/" + c if c else "/sys/fs/cgroup"
                    if c == "" and not os.path.exists(base + path + "/cgroup.procs"):
                        base = "/sys/fs/cgroup/unified"
                    dirs[c] = base + path
            return int(k), dirs
    return None, None


def read(d, *names):
    for n in names:
        try:
            return open(os.path.join(d, n)).read().strip()
        except OSError:
            pass
    return None


gw = Funkd("--isolation", "process").start()
try:
    st, _, b = gw.req("POST", "/system/functions",
                      {"service": "slow", "image": BUSYBOX, "envProcess": "sleep 4",
                       "limits": {"cpu": "250m", "memory": "32M"}})
    check(st == 202, "deploy with limits.cpu 250m and limits.memory 32M", (st, b))
    st, _, b = gw.req("GET", "/system/function/slow")
    check(st == 200 and b'"cpuMillicores": 250' in b.replace(b'":', b'": ').replace(b'":  ', b'": '),
          "the function reports cpuMillicores 250", b[:400])

    res = {}
    t = threading.Thread(target=lambda: res.update(r=gw.req("POST", "/function/slow", b"", timeout=60)))
    t.start()
    pid, dirs = None, None
    deadline = time.time() + 30
    while time.time() < deadline and pid is None:
        pid, dirs = guest_cgroups(gw.proc.pid)
        time.sleep(0.05)
    check(pid is not None, "the running call's guest process sits in its own funk-*/g* cgroup", dirs)
    if pid:
        cpu = dirs.get("cpu", dirs.get(""))
        mem = dirs.get("memory", dirs.get(""))
        q = read(cpu, "cpu.cfs_quota_us") or (read(cpu, "cpu.max") or "").split(" ")[0]
        check(q == "25000", "cpu quota 25000 us per 100 ms (250m)", (cpu, q))
        lim = read(mem, "memory.limit_in_bytes", "memory.max")
        check(lim == str((32 + 64) << 20), "memory limit = guest memory (32M) + 64M", (mem, lim))
        check(os.stat("/proc/%d" % pid).st_uid == 65534, "the guest runs as 65534",
              os.stat("/proc/%d" % pid).st_uid)
    t.join(60)
    check(res.get("r", (0,))[0] == 200, "the call answers 200", res.get("r"))
    if pid:
        gone = False
        for _ in range(100):
            if not os.path.isdir(mem) and not os.path.isdir(cpu):
                gone = True
                break
            time.sleep(0.05)
        check(gone, "its cgroup is removed after the call", (mem, cpu))

    for bad in ("lots", "-1", "0", "5x", "100000"):
        st, _, b = gw.req("POST", "/system/functions",
                          {"service": "bad", "image": BUSYBOX, "envProcess": "cat",
                           "limits": {"cpu": bad}})
        check(st == 400 and b"limits.cpu" in b, "limits.cpu %r -> 400" % bad, (st, b))
finally:
    gw.stop()
done()
