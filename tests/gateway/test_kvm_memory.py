# SPDX-License-Identifier: Apache-2.0
# Issue 11: funkd's address space holds no KVM guest's memory. A warm KVM function writes 128
# bytes it computes (hostile_probe "plant", seeded by an env var: neither the ELF nor anything
# funkd sends holds them) and then waits in FN_RECV; funkd's whole memory (/proc/PID/maps + mem)
# is scanned for them: absent. The VM runs in a child process of funkd's as 65534:65534 under a
# seccomp filter, and funkd itself holds no KVM VM fd. Control: the same with FUNK_KVM_SPAWN=off
# (the VM in funkd's own process) finds the bytes, so the scan does see guest memory.
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import Funkd, check, done, skip  # noqa: E402

PROBE = os.environ.get("HOSTILE_PROBE_ELF", "")
try:
    os.close(os.open("/dev/kvm", os.O_RDWR))
except OSError as e:
    skip("/dev/kvm does not work here (%s): this test is about KVM guests" % e)


def scan(pid, pattern):
    """True when pattern is anywhere in pid's readable memory (the sanitizer's reservations of
    more than 1 GiB, which hold no data, are left out)."""
    found = False
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1][0] != "r" or hi - lo > (1 << 30) or line.rstrip().endswith(("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            if pattern in data:
                found = True
    return found


def kvm_vm_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += "kvm-vm" in os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    return n


def monitor_children(pid):
    """Status lines (uid, gid, NoNewPrivs, Seccomp) of pid's children that hold a KVM VM fd."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = dict(l.split(":", 1) for l in open("/proc/%s/status" % p).read().splitlines() if ":" in l)
            if int(st["PPid"]) != pid or not kvm_vm_fds(int(p)):
                continue
        except (OSError, KeyError, ValueError):
            continue
        out.append("uid %s gid %s nnp %s seccomp %s" % (st["Uid"].split()[0], st["Gid"].split()[0],
                                                       st["NoNewPrivs"].strip(), st["Seccomp"].strip()))
    return out


def run(spawned):
    seed = random.randrange(251)
    pattern = bytes((7 * k + 13 * seed + 1) & 0xFF for k in range(128))
    if not spawned:
        os.environ["FUNK_KVM_SPAWN"] = "off"  # read by funkd's libfunk-vm; its funkd only
    try:
        with Funkd("--isolation", "kvm") as gw:
            os.environ.pop("FUNK_KVM_SPAWN", None)
            check_one(gw, spawned, seed, pattern)
    finally:
        os.environ.pop("FUNK_KVM_SPAWN", None)


def check_one(gw, spawned, seed, pattern):
    gw.deploy("canary", PROBE, labels={"com.funk.mode": "warm", "com.funk.isolation": "kvm"},
              env={"HOSTILE_MODE": "plant", "HOSTILE_SEED": str(seed)})
    st, _, body = gw.req("POST", "/function/canary", b"x")
    check(st == 200 and body == b"ok", "%s: the warm KVM function answered" % ("spawned" if spawned else "control"),
          "%d %r" % (st, body[:200]))
    # The guest now waits in its next FN_RECV with the bytes in its memory.
    pid = gw.proc.pid
    found = scan(pid, pattern)
    kids = monitor_children(pid)
    if spawned:
        check(not found, "funkd's memory does not hold the guest's bytes")
        check(kvm_vm_fds(pid) == 0, "funkd holds no KVM VM fd")
        check(any(k == "uid 65534 gid 65534 nnp 1 seccomp 2" for k in kids),
              "a child of funkd runs the VM as 65534:65534 under seccomp", repr(kids))
    else:
        check(found, "control (FUNK_KVM_SPAWN=off): the scan finds the bytes in funkd")
        check(kvm_vm_fds(pid) > 0, "control: funkd holds the KVM VM fd")


run(True)
run(False)
done()
