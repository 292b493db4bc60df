#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Runs one Solo5-format test unikernel under funk-monitor with solo5-hvt's command line and
# checks output and exit status as Solo5's own test suite (tests.bats) does. Exit 77 = skip.
import argparse
import fcntl
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

TIMEOUT = 60


def skip(why):
    print("SKIP: " + why + ": this Solo5-format test is NOT RUN")
    sys.exit(77)


def need_kvm():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        skip("cannot open /dev/kvm (%s)" % e.strerror)


class Run:
    def __init__(self, args, rc, out):
        self.args, self.rc, self.out = args, rc, out


def run(monitor, args):
    p = subprocess.run([monitor] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=TIMEOUT)
    out = p.stdout.decode(errors="replace")
    return Run(args, p.returncode, out)


def check(r, rc, want=(), reject=()):
    problems = []
    if r.rc != rc:
        problems.append("exit status %d, expected %d" % (r.rc, rc))
    for w in want:
        if w not in r.out:
            problems.append("output lacks %r" % w)
    for w in reject:
        if w in r.out:
            problems.append("output has %r" % w)
    print("$ funk-monitor " + " ".join(r.args))
    print(r.out.rstrip())
    if problems:
        print("FAIL: " + "; ".join(problems))
        sys.exit(1)


def sized_file(d, name, size):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(b"\0" * size)
    return path


# ---- net: taps and raw frames -------------------------------------------------------------
ETH_P_ALL = 0x0003


def make_tap(name, mtu):
    for cmd in (["ip", "tuntap", "add", "dev", name, "mode", "tap"],
                ["ip", "link", "set", "dev", name, "mtu", str(mtu)],
                ["ip", "link", "set", "dev", name, "up"]):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def del_tap(name):
    subprocess.run(["ip", "link", "del", "dev", name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def net_case(monitor, elf, mtus):
    if os.geteuid() != 0:
        skip("needs root to create tap devices")
    if not os.path.exists("/dev/net/tun") or shutil.which("ip") is None:
        skip("needs /dev/net/tun and ip(8)")
    taps = ["fk5%d_%d" % (os.getpid() % 100000, i) for i in range(len(mtus))]
    socks = []
    proc = None
    try:
        for t, m in zip(taps, mtus):
            make_tap(t, m)
        args = ["--mem=8"]
        for i, t in enumerate(taps):
            args.append("--net:service%d=%s" % (i, t))
        args += ["--", elf]
        for t in taps:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((t, 0))
            socks.append(s)
        proc = subprocess.Popen([monitor] + args, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        fl = fcntl.fcntl(proc.stdout, fcntl.F_GETFL)
        fcntl.fcntl(proc.stdout, fcntl.F_SETFL, fl | os.O_NONBLOCK)
        out = b""
        deadline = time.monotonic() + TIMEOUT
        replies = {}
        macs = {}
        payloads = {i: bytes((i * 7 + k) & 0xff for k in range(mtus[i])) for i in range(len(mtus))}
        last_send = 0.0
        while time.monotonic() < deadline and proc.poll() is None:
            r, _, _ = select.select([proc.stdout] + socks, [], [], 0.2)
            if proc.stdout in r:
                out += proc.stdout.read() or b""
            text = out.decode(errors="replace")
            for i in range(len(mtus)):
                key = "service%d: MTU is %d, MAC is " % (i, mtus[i])
                tail = text.split(key, 1)[1] if key in text else ""
                if len(tail) >= 18 and tail[17] == "\n" and i not in macs:
                    macs[i] = tail[:17]  # only a whole line: output arrives in pieces
            for i, s in enumerate(socks):
                if s in r:
                    fr = s.recv(70000)
                    if len(fr) >= 14 and fr[12:14] == b"\x88\xb6":
                        replies[i] = fr
            now = time.monotonic()
            if now - last_send > 0.5:
                last_send = now
                for i, s in enumerate(socks):
                    if i in macs and i not in replies:
                        dst = bytes.fromhex(macs[i].replace(":", ""))
                        s.send(dst + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + payloads[i])
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        rest = proc.stdout.read()
        out += rest or b""
        r = Run(args, proc.returncode, out.decode(errors="replace"))
        want = ["SUCCESS"] + ["service%d: MTU is %d" % (i, m) for i, m in enumerate(mtus)]
        check(r, 0, want)
        problems = []
        for i, m in enumerate(mtus):
            mac = macs.get(i, "")
            fr = replies.get(i)
            if not fr:
                problems.append("no reply frame on service%d" % i)
                continue
            if len(fr) != m + 14:
                problems.append("service%d: reply of %d bytes, expected %d" % (i, len(fr), m + 14))
            if fr[14:] != payloads[i]:
                problems.append("service%d: reply payload differs" % i)
            first = int(mac[:2], 16) if mac else 1
            if first & 1 or not first & 2:
                problems.append("service%d: MAC %s is not locally administered unicast" % (i, mac))
        if len(set(macs.values())) != len(mtus):
            problems.append("interfaces share a MAC: %s" % macs)
        if problems:
            print("FAIL: " + "; ".join(problems))
            sys.exit(1)
        print("OK: frames of MTU + 14 bytes carried both ways, MACs %s" % macs)
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        for s in socks:
            s.close()
        for t in taps:
            del_tap(t)


# ---- cases --------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--monitor", required=True)
    ap.add_argument("--elf-dir", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--funk-hello", default="")
    a = ap.parse_args()
    m = a.monitor
    elf = lambda n: os.path.join(a.elf_dir, "solo5-test-%s.hvt" % n)
    c = a.case
    if c.startswith("spt-"):
        return spt_case(m, a.elf_dir, c[4:])
    need_kvm()
    tmp = tempfile.mkdtemp(prefix="funk-solo5-")
    try:
        if c == "hello":
            check(run(m, [elf("hello"), "Hello_Solo5", "two"]), 0,
                  ["SUCCESS", "Command line is: 'Hello_Solo5 two'", "Solo5: "])
        elif c == "quiet":
            check(run(m, ["--", elf("hello"), "--solo5:quiet"]), 0, ["SUCCESS"], ["Solo5:"])
        elif c in ("globals", "tls", "time"):
            check(run(m, [elf(c)]), 0, ["SUCCESS"])
        elif c == "notls":
            check(run(m, [elf("notls")]), 255, ["ABORT"], ["FAILURE"])
        elif c in ("exception", "zeropage", "ssp"):
            check(run(m, [elf("faults"), c]), 255, ["ABORT"], ["FAILURE"])
        elif c == "blk":
            img = sized_file(tmp, "storage.img", 4 << 20)
            check(run(m, ["--block:storage=" + img, "--", elf("blk")]), 0,
                  ["SUCCESS", "block size 512, capacity 4194304"])
        elif c == "blk_4096":
            img = sized_file(tmp, "storage.img", 4 << 20)
            check(run(m, ["--block:storage=" + img, "--block-sector-size:storage=4096", "--",
                          elf("blk")]), 0, ["SUCCESS", "block size 4096, capacity 4194304"])
        elif c == "blk_misaligned":
            img = sized_file(tmp, "storage.img", 3 * 2048)
            check(run(m, ["--block:storage=" + img, "--block-sector-size:storage=4096", "--",
                          elf("blk")]), 1, ["Backing storage size must be block aligned"])
        elif c == "blk_odd":
            img = sized_file(tmp, "storage.img", 3 * 521)
            check(run(m, ["--block:storage=" + img, "--block-sector-size:storage=521", "--",
                          elf("blk")]), 1, ["Block size must be a multiple of 2"])
        elif c == "blk_too_small":
            img = sized_file(tmp, "storage.img", 256)
            check(run(m, ["--block:storage=" + img, "--block-sector-size:storage=256", "--",
                          elf("blk")]), 1,
                  ["Block size must be a multiple of 2 greater than or equal 512"])
        elif c == "mft_maxdevices":
            args = ["--block:storage%d=%s" % (n, sized_file(tmp, "s%d.img" % n, 4096))
                    for n in range(63)]
            check(run(m, args + ["--", elf("maxdevices")]), 0, ["SUCCESS"])
        elif c == "net_mtu1500":
            net_case(m, elf("net"), [1500])
        elif c == "net_mtu9000":
            net_case(m, elf("net"), [9000])
        elif c == "net_2if":
            net_case(m, elf("net_2if"), [1500, 9000])
        elif c == "buggyelf":
            # Solo5's buggyelf: the MFT1 note claims a 1-byte descriptor.
            data = bytearray(open(elf("hello"), "rb").read())
            i = data.find(b"\x06\x00\x00\x00", 0)
            while i >= 0 and data[i + 8:i + 18] != b"MFT1Solo5\0":
                i = data.find(b"\x06\x00\x00\x00", i + 1)
            if i < 0:
                print("FAIL: no MFT1 note found in the hello unikernel")
                sys.exit(1)
            struct.pack_into("<I", data, i + 4, 1)
            bad = os.path.join(tmp, "buggyelf.hvt")
            open(bad, "wb").write(bytes(data))
            check(run(m, [bad]), 1, ["note does not fall within valid size", "MFT1 note"])
        elif c == "xnow":
            check(run(m, [elf("faults"), "xnow"]), 1, ["host/guest translation fault"],
                  ["FAILURE", "ABORT"])
        elif c == "dumpcore":
            r = run(m, ["--mem=8", "--dumpcore=" + tmp, elf("faults"), "abort"])
            check(r, 255, ["ABORT", "dumping guest core to: %s/core.funk-monitor." % tmp])
            cores = [f for f in os.listdir(tmp) if f.startswith("core.funk-monitor.")]
            if len(cores) != 1:
                print("FAIL: expected one core file, found %s" % cores)
                sys.exit(1)
            check_core(os.path.join(tmp, cores[0]), elf("faults"), 8 << 20)
        elif c == "exit_codes":
            check(run(m, ["--bogus", elf("hello")]), 1, ["unknown option"])
            check(run(m, ["--version"]), 0, ["hvt ABI version 2"])
            check(run(m, ["--mem=0", elf("hello")]), 1, ["Malformed argument to --mem"])
            check(run(m, ["--mem=5000", elf("hello")]), 1, ["exceeds the max size"])
            check(run(m, ["--mem=3", elf("hello"), "x"]), 0, ["adjusting memory to 2097152 bytes"])
            check(run(m, [elf("faults"), "exit=7"]), 7, ["test_exit=7"])
            check(run(m, [elf("blk")]), 1, ["device 'storage' declared in the manifest is not attached"])
            img = sized_file(tmp, "x.img", 4096)
            check(run(m, ["--block:nosuch=" + img, elf("hello")]), 1, ["no device 'nosuch'"])
            check(run(m, ["--net-mac:service0=zz", elf("net")]), 1, ["--net-mac"])
            if a.funk_hello:
                # funk guests keep funk's statuses.
                check(run(m, ["--bogus", a.funk_hello]), 64, ["unknown option"])
                check(run(m, ["--block:nosuch=" + img, a.funk_hello]), 65, ["no device 'nosuch'"])
        else:
            print("unknown case " + c)
            sys.exit(2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- spt: Solo5 spt unikernels on the process backend (no /dev/kvm) ---------------------------
SPT_FORBIDDEN = {  # action of the sandbox guest: the system call number the filter refuses
    "open": 2, "getpid": 39, "write5": 1, "write_blockfd": 1, "pread_big": 17,
    "pread_past": 17, "pwrite_negative": 18, "pread_otherfd": 17, "clock_cputime": 228,
    "x32_write": 0x40000001, "int80_write": 4,
}


def spt_case(m, elf_dir, c):
    elf = lambda n: os.path.join(elf_dir, "solo5-test-spt-%s.spt" % n)
    tmp = tempfile.mkdtemp(prefix="funk-spt-")
    try:
        if c == "hello":
            check(run(m, [elf("hello"), "Hello_Solo5", "two"]), 0,
                  ["SUCCESS", "Command line is: 'Hello_Solo5 two'", "Solo5: funk test bindings (spt"])
        elif c == "quiet":
            check(run(m, ["--", elf("hello"), "--solo5:quiet"]), 0, ["SUCCESS"], ["Solo5:"])
        elif c in ("globals", "tls", "time"):
            check(run(m, [elf(c)]), 0, ["SUCCESS"])
        elif c == "notls":
            # The guest enters with FS base 0: TLS without a block faults (Solo5's spt tender
            # process would die of SIGSEGV; funk-monitor reports it and exits 1).
            check(run(m, [elf("notls")]), 1, ["guest fault: page fault"], ["FAILURE"])
        elif c == "exception":
            # No IDT in spt: the CPU exception is a signal in the guest process (solo5-spt dies
            # of SIGSEGV); funk-monitor reports it and exits 1.
            check(run(m, [elf("faults"), "exception"]), 1,
                  ["guest fault: page fault at 0x400000000", "write"], ["FAILURE"])
        elif c == "zeropage":
            check(run(m, [elf("faults"), "zeropage"]), 1,
                  ["guest fault: page fault at 0x0 ", "read"], ["FAILURE"])
        elif c == "ssp":
            check(run(m, [elf("faults"), "ssp"]), 255,
                  ["Solo5: ABORT: stack smashing detected"], ["FAILURE"])
        elif c in ("blk", "blk_4096"):
            bs = 512 if c == "blk" else 4096
            img = sized_file(tmp, "storage.img", 4 << 20)
            extra = [] if bs == 512 else ["--block-sector-size:storage=4096"]
            check(run(m, ["--block:storage=" + img] + extra + ["--", elf("blk")]), 0,
                  ["SUCCESS", "block size %d, capacity 4194304" % bs])
            # The guest's own pwrite64 calls reached the file: first and last block.
            data = open(img, "rb").read()
            for k, off in enumerate((0, len(data) - bs)):
                want = bytes(ord("A") + (i + k) % 26 for i in range(bs))
                if data[off:off + bs] != want:
                    print("FAIL: block at %d of the backing file does not hold the guest's data" % off)
                    sys.exit(1)
            print("OK: the backing file holds the guest's first and last blocks")
        elif c == "exit_codes":
            img = sized_file(tmp, "storage.img", 512 * 512)
            blk = "--block:storage=" + img
            check(run(m, [blk, elf("sandbox"), "exit=7"]), 7, ["test_exit=7"])
            check(run(m, [blk, elf("sandbox"), "exit=0"]), 0, ["test_exit=0"])
            check(run(m, [blk, elf("sandbox"), "abort"]), 255, ["Solo5: ABORT: test_abort"])
            check(run(m, [blk, elf("sandbox"), "pread_last"]), 0, ["SUCCESS"])
            check(run(m, [blk, elf("sandbox"), "entry_state"]), 0, ["SUCCESS: clean entry"])
            check(run(m, ["--timeout=0.5", blk, elf("sandbox"), "spin"]), 1,
                  ["guest timed out"], ["FAILURE"])
            check(run(m, [blk, elf("sandbox"), "write_text"]), 1,
                  ["guest fault: page fault", "write, protection"], ["FAILURE"])
            check(run(m, [blk, elf("sandbox"), "console_fault"]), 0, ["SUCCESS: EFAULT"])
            check(run(m, ["--bogus", elf("hello")]), 1, ["unknown option"])
            check(run(m, ["--version"]), 0, ["spt ABI version 2"])
            check(run(m, ["--dumpcore=" + tmp, elf("hello")]), 1, ["--dumpcore: guests under KVM only"],
                  ["SUCCESS"])
            check(run(m, [elf("sandbox"), "exit=3"]), 1,
                  ["device 'storage' declared in the manifest is not attached"])
            check(run(m, ["--verbose", elf("hello")]), 0,
                  ["isolation: process (auto: a Solo5 spt guest runs under the process backend)"])
        elif c == "forbidden":
            img = sized_file(tmp, "storage.img", 512 * 512)
            for action, nr in sorted(SPT_FORBIDDEN.items()):
                check(run(m, ["--block:storage=" + img, elf("sandbox"), action]), 1,
                      ["funk-monitor: sandbox: guest made a forbidden system call %d at rip=" % nr],
                      ["FAILURE", "SUCCESS"])
            if open(img, "rb").read() != b"\0" * (512 * 512):
                print("FAIL: a refused call changed the backing file")
                sys.exit(1)
        elif c == "net_mtu1500":
            net_case(m, elf("net"), [1500])
        elif c == "net_2if":
            net_case(m, elf("net_2if"), [1500, 9000])
        elif c == "kvm":
            need_kvm()
            check(run(m, ["--isolation=kvm", elf("hello")]), 1,
                  ["Solo5 spt guest", "process backend"])
        else:
            print("unknown case spt-" + c)
            sys.exit(2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_core(path, kernel, mem_size):
    b = open(path, "rb").read(1 << 16)
    size = os.path.getsize(path)
    problems = []
    if b[:4] != b"\x7fELF" or struct.unpack_from("<H", b, 16)[0] != 4:
        problems.append("not an ELF ET_CORE file")
    phoff, = struct.unpack_from("<Q", b, 32)
    phnum, = struct.unpack_from("<H", b, 56)
    phs = [struct.unpack_from("<IIQQQQQQ", b, phoff + 56 * i) for i in range(phnum)]
    notes = [p for p in phs if p[0] == 4]
    loads = [p for p in phs if p[0] == 1]
    if len(notes) != 1 or len(loads) != 1:
        problems.append("expected one PT_NOTE and one PT_LOAD, got %s" % phs)
    else:
        n = notes[0]
        namesz, descsz, ntype = struct.unpack_from("<III", b, n[2])
        rip, = struct.unpack_from("<Q", b, n[2] + 12 + 8 + 112 + 16 * 8)
        if ntype != 1 or namesz != 5:
            problems.append("note is not NT_PRSTATUS/CORE")
        l = loads[0]
        if l[3] != 0 or l[5] != mem_size or l[6] != mem_size:
            problems.append("PT_LOAD does not cover guest memory: %s" % (l,))
        k = open(kernel, "rb").read()
        kphoff, = struct.unpack_from("<Q", k, 32)
        kph = [struct.unpack_from("<IIQQQQQQ", k, kphoff + 56 * i)
               for i in range(struct.unpack_from("<H", k, 56)[0])]
        text = [p for p in kph if p[0] == 1 and p[1] & 1][0]
        with open(path, "rb") as f:
            f.seek(l[2] + text[3])
            dumped = f.read(text[5])
        if dumped != k[text[2]:text[2] + text[5]]:
            problems.append("the dumped text does not match the kernel's")
        if not text[3] <= rip < text[3] + text[6]:
            problems.append("rip 0x%x is not in the text" % rip)
        if size < l[2] + mem_size:
            problems.append("core is %d bytes, shorter than its PT_LOAD" % size)
    if problems:
        print("FAIL: core " + path + ": " + "; ".join(problems))
        sys.exit(1)
    print("OK: core %s is an ELF core with registers (rip 0x%x) and guest memory" % (path, rip))


if __name__ == "__main__":
    main()
