#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end runner for one unikernel case: runs it under the real funk-monitor and checks the
# exit code and expected output; sets up block files and tap devices when the case needs them.
"""Exit codes follow meson's protocol: 0 pass, 1 fail (or the expected failure of an xfail
case), 77 skip (always with a loud reason), 99 error (the case failed in an unexpected way)."""
import argparse
import fcntl
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP, ERROR = 77, 99
FUNK_EXIT_INTERNAL = 72


def skip(reason):
    print("SKIP: " + reason, flush=True)
    print("*** this test did NOT run: " + reason + " ***", file=sys.stderr, flush=True)
    sys.exit(SKIP)


def kvm_problem():
    """Returns None when /dev/kvm answers KVM_GET_API_VERSION with 12, else the reason."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return "/dev/kvm not usable (%s)" % e.strerror
    try:
        version = fcntl.ioctl(fd, 0xAE00)  # KVM_GET_API_VERSION
    except OSError as e:
        return "KVM_GET_API_VERSION failed (%s)" % e.strerror
    finally:
        os.close(fd)
    return None if version == 12 else "unexpected KVM API version %d" % version


EMULATION_RE = re.compile(r"KVM emulation failure at rip=(0x[0-9a-f]+)")
# What the instruction at that rip must be: x87 (f...), MMX/SSE registers or the SSE state ops.
FP_INSN_RE = re.compile(r"%[xy]?mm[0-9]|%st\b|^\s*(f[a-z0-9]+|[a-z]*mxcsr)\b")


def emulation_failure_problem(stderr, kernel):
    """None when stderr holds the monitor's emulation-failure message and the guest instruction
    at its rip is floating-point work; else what is wrong."""
    m = EMULATION_RE.search(stderr)
    if not m:
        return "no 'KVM emulation failure at rip=...' message in stderr"
    rip = int(m.group(1), 16)
    try:
        # The whole text, decoded from each symbol: rip must be where an instruction starts.
        d = subprocess.run(["objdump", "-d", "--no-show-raw-insn", kernel],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot disassemble %s at 0x%x: %s" % (kernel, rip, e)
    first = [l for l in d.stdout.splitlines() if re.match(r"\s*%x:" % rip, l)]
    if d.returncode != 0 or not first:
        return "no instruction starts at rip 0x%x in %s (%s)" % (rip, kernel, d.stderr.strip())
    insn = first[0].split(":", 1)[1]
    if not FP_INSN_RE.search(insn):
        return "the instruction at 0x%x is not SSE/x87: %s" % (rip, insn.strip())
    print("emulation failure on an SSE/x87 instruction: 0x%x:%s" % (rip, insn.rstrip()))
    return None


def host_has_hw_virt():
    try:
        with open("/proc/cpuinfo") as f:
            return re.search(r"\b(vmx|svm)\b", f.read()) is not None
    except OSError:
        return False


class Tap:
    """A tap device for the net case, plus a raw socket on it that answers the guest's ping."""

    def __init__(self):
        # A fresh random name per try: a device left by another run (or another test) only
        # costs a retry, never a skip.
        for _ in range(8):
            self.name = "funkt" + os.urandom(4).hex()  # 13 characters, within IFNAMSIZ
            r = subprocess.run(["ip", "tuntap", "add", "dev", self.name, "mode", "tap"],
                               capture_output=True, text=True)
            if r.returncode == 0 or "exists" not in r.stderr and "busy" not in r.stderr:
                break
        if r.returncode != 0:
            skip("cannot create a tap device (%s)" % r.stderr.strip())
        subprocess.run(["ip", "link", "set", self.name, "up"], check=True)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88B5))
        self.sock.bind((self.name, 0))
        self.sock.settimeout(0.2)
        self.got_ping = False
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                frame = self.sock.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if frame[14:27] == b"funk-net-ping":
                self.got_ping = True
                reply = frame[6:12] + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"funk-net-pong"
                self.sock.send(reply.ljust(60, b"\0"))

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()
        subprocess.run(["ip", "link", "del", self.name], capture_output=True)


def supports_isolation(monitor):
    """True when the monitor's --help mentions --isolation (older monitors are KVM-only)."""
    try:
        h = subprocess.run([monitor, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--isolation" in h.stdout + h.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--monitor", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--isolation", default="kvm", choices=["kvm", "process", "kvm-spawn"])
    ap.add_argument("--expect-exit", type=int, default=0)
    ap.add_argument("--expect", action="append", default=[],
                    help="substring that must appear in the monitor's stdout+stderr")
    ap.add_argument("--expect-stdout", action="append", default=[],
                    help="substring that must appear in stdout alone")
    ap.add_argument("--reject", action="append", default=[],
                    help="substring that must NOT appear in the output")
    ap.add_argument("--setup", choices=["none", "block", "net"], default="none")
    ap.add_argument("--fn-input", help="file passed to the monitor as --fn-input")
    ap.add_argument("--fn-input-size", type=int,
                    help="generate a binary request body of this size; stdout must echo it")
    ap.add_argument("--xfail-emulation", action="store_true",
                    help="expect the KVM emulation failure (hosts without vmx/svm)")
    ap.add_argument("--no-isolation-flag", action="store_true",
                    help="the runner binary is not funk-monitor (e.g. the entry harness)")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds before the runner gives up")
    ap.add_argument("--monitor-opt", action="append", default=[], help="an option for the monitor")
    ap.add_argument("args", nargs="*", help="arguments for the unikernel (after --)")
    a = ap.parse_args()

    if not os.access(a.monitor, os.X_OK):
        print("ERROR: monitor %s is not an executable" % a.monitor)
        return ERROR
    if a.isolation in ("kvm", "kvm-spawn"):
        problem = kvm_problem()
        if problem:
            skip("KVM case needs a working /dev/kvm: " + problem)

    tmp = tempfile.TemporaryDirectory(prefix="funk-uk-")
    monitor_opts, kernel_args = list(a.monitor_opt), list(a.args)
    block = None
    tap = None
    if a.setup == "block":
        block = os.path.join(tmp.name, "disk.img")
        with open(block, "wb") as f:
            f.write(b"\0" * 65536)
            for off in (512, 1024, 2048, 4096):  # block 1 for any plausible block size
                f.seek(off)
                f.write(b"funk-block-test")
        monitor_opts.append("--block:disk=" + block)
    elif a.setup == "net":
        if os.geteuid() != 0:
            skip("net case needs root to create a tap device")
        tap = Tap()
        monitor_opts.append("--net:net0=" + tap.name)

    big = None
    if a.fn_input_size is not None:
        big = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(a.fn_input_size))
        a.fn_input = os.path.join(tmp.name, "request.bin")
        with open(a.fn_input, "wb") as f:
            f.write(big)

    cmd = [a.monitor] + monitor_opts
    if a.no_isolation_flag:
        pass
    elif supports_isolation(a.monitor):
        cmd.insert(1, "--isolation=" + a.isolation)
    elif a.isolation == "process":
        skip("this funk-monitor has no --isolation option yet (no process backend)")
    if a.fn_input:
        cmd.append("--fn-input=" + a.fn_input)
    cmd += [a.kernel] + kernel_args
    print("run: " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=a.limit)
    except subprocess.TimeoutExpired:
        print("FAIL: the monitor did not finish within %.0f s" % a.limit)
        return 1
    finally:
        if tap:
            tap.close()
    wall = time.monotonic() - t0
    raw_stdout = p.stdout
    if big is not None and len(raw_stdout) > 256:
        p.stdout = b"(%d bytes of stdout)\n" % len(raw_stdout)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    both = out + err
    print("exit %d after %.3f s\n--- stdout ---\n%s--- stderr ---\n%s--------------" %
          (p.returncode, wall, out, err), flush=True)

    if a.isolation == "process" and p.returncode in (64, 66) and "isolation" in err:
        skip("the monitor has no process backend yet: " + err.strip().splitlines()[-1])

    problems = []
    if p.returncode < 0:
        problems.append("monitor killed by signal %d (the host side must never crash)"
                        % -p.returncode)
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        if bad in err:
            problems.append("sanitizer report in the monitor's stderr")

    if a.xfail_emulation:
        if p.returncode == FUNK_EXIT_INTERNAL:
            # Exit 72 alone is any KVM internal error: only the emulator's refusal of the guest's
            # floating-point instruction is the expected failure.
            why = emulation_failure_problem(err, a.kernel)
            if why:
                print("ERROR: exit %d, but not the expected SSE/x87 emulation failure: %s"
                      % (p.returncode, why))
                return ERROR
            if "fpu: " in out:
                print("ERROR: the guest printed a result before the emulation failure")
                return ERROR
            print("XFAIL: expected emulation failure under software KVM: %s"
                  % EMULATION_RE.search(err).group(0))
            return 1 if not problems else ERROR
        if p.returncode == 0 and all(s in both for s in a.expect):
            print("UNEXPECTED PASS: floating point worked under this KVM")
            return 0
        print("ERROR: expected the emulation failure (exit %d), got exit %d"
              % (FUNK_EXIT_INTERNAL, p.returncode))
        return ERROR

    if p.returncode != a.expect_exit:
        problems.append("exit code %d, expected %d" % (p.returncode, a.expect_exit))
    for s in a.expect:
        if s not in both:
            problems.append("missing output %r" % s)
    for s in a.expect_stdout:
        if s not in out:
            problems.append("missing stdout %r" % s)
    for s in a.reject:
        if s in both:
            problems.append("unexpected output %r" % s)
    if big is not None and raw_stdout != big:
        problems.append("stdout (%d bytes) is not the %d-byte request body"
                        % (len(raw_stdout), len(big)))
    if block:
        with open(block, "rb") as f:
            if f.read(26) != b"abcdefghijklmnopqrstuvwxyz":
                problems.append("block 0 of the disk file does not hold what the guest wrote")
    if tap and not tap.got_ping:
        problems.append("the guest's frame never reached the tap device")
    if problems:
        for pr in problems:
            print("FAIL: " + pr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
