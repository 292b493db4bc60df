# SPDX-License-Identifier: Apache-2.0
# The guest SDK on musl (issue 13): a funk function with floating point and libm, built outside
# the tree with the installed `funk-cc --linux`, is a static Linux program whose function I/O
# (FN_RECV/FN_SEND) goes through the monitor's Linux personality. It answers under
# funk-monitor --linux (process backend, and KVM where there is one) and in funkd per request and
# warm (one process serving call after call),
# its stdout is its log, the numbers match Python's, and run natively it says what it is.
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import Funkd, check, done, skip  # noqa: E402

FCC = os.environ.get("FUNK_CC_INSTALLED", "")
SRC = os.environ.get("FUNK_SOURCE_ROOT", ".")
if not shutil.which("musl-gcc"):
    skip("musl-gcc missing (Debian musl-tools, in scripts/deps.d): no musl guest SDK here")
if not os.path.exists(FCC):
    raise SystemExit("FAIL funk-cc is not installed at %s (meson install first)" % FCC)
MONITOR = os.path.join(os.path.dirname(FCC), "funk-monitor")
os.environ["FUNK_ACCEL_PLUGINS"] = "cpu"  # the same plugin natively, in the agents of both runs


def expect(numbers, served):
    n = len(numbers)
    mean = sum(numbers) / n
    sd = math.sqrt(sum(v * v for v in numbers) / n - mean * mean)
    return ("n=%d mean=%.6f sd=%.6g exp1=%.12f pi=%s served=%d\n"
            % (n, mean, sd, math.exp(1.0), float.hex(math.pi), served)).encode()


tmp = tempfile.mkdtemp(prefix="funk-fnlinux-")
try:
    shutil.copy(os.path.join(SRC, "tests", "install", "outside", "stats_fn.c"), tmp)
    env = {"PATH": "/usr/bin:/bin", "HOME": tmp}
    p = subprocess.run([FCC, "--linux", "-O2", "-Wall", "-Wextra", "-Werror", "-o", "stats_fn",
                        "stats_fn.c"], cwd=tmp, env=env, capture_output=True, text=True)
    check(p.returncode == 0, "funk-cc --linux -o stats_fn stats_fn.c (outside the tree)", p.stderr)
    exe = os.path.join(tmp, "stats_fn")
    out = subprocess.run(["file", exe], capture_output=True, text=True).stdout
    check("statically linked" in out, "a static program", out)

    # natively: no monitor serves its hypercalls, it says so
    p = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    check(p.returncode == 127 and "funk function" in p.stderr, "run natively: exit 127 and why",
          (p.returncode, p.stderr))

    nums = [1, 2, 3, 4, 5.5, -2.25, 1e3]
    body = " ".join(repr(v) for v in nums).encode()
    inp = os.path.join(tmp, "in.txt")
    open(inp, "wb").write(body)
    p = subprocess.run([MONITOR, "--linux", "--fn-input=" + inp, exe], capture_output=True,
                       timeout=60)
    check(p.returncode == 0 and p.stdout == expect(nums, 1),
          "funk-monitor --linux: the answer (floats, libm, %a) matches Python's",
          (p.returncode, p.stdout, expect(nums, 1), p.stderr[-300:]))
    check(b"served request 1" in p.stderr, "its stdout is the log", p.stderr[-300:])
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    if kvm:
        p = subprocess.run([MONITOR, "--linux", "--isolation=kvm", "--fn-input=" + inp, exe],
                           capture_output=True, timeout=120)
        check(p.returncode == 0 and p.stdout == expect(nums, 1),
              "funk-monitor --linux --isolation=kvm: the same answer (ring 3 under KVM)",
              (p.returncode, p.stdout, p.stderr[-300:]))
    else:
        print("note: no usable /dev/kvm: the KVM run of the function is left out")

    # a function that aims FN_RECV at its own text is refused (-EFAULT), the text unchanged
    shutil.copy(os.path.join(SRC, "tests", "install", "outside", "fn_text.c"), tmp)
    p = subprocess.run([FCC, "--linux", "-O2", "-o", "fn_text", "fn_text.c"], cwd=tmp, env=env,
                       capture_output=True, text=True)
    check(p.returncode == 0, "funk-cc --linux fn_text.c", p.stderr)
    for iso in ["process"] + (["kvm"] if kvm else []):
        p = subprocess.run([MONITOR, "--linux", "--isolation=" + iso, "--fn-input=" + inp,
                            os.path.join(tmp, "fn_text")], capture_output=True, timeout=120)
        check(p.returncode == 0 and p.stdout == b"FN_RECV into text: -14, text unchanged\n",
              "%s: FN_RECV into the program's own text is -EFAULT, the text unchanged" % iso,
              (p.returncode, p.stdout, p.stderr[-300:]))

    # ACCEL from a musl function: it reads dog.jpg from its bundle with stdio and classifies it
    # through the agent; the labels are those `funk-accel classify` prints natively
    shutil.copy(os.path.join(SRC, "tests", "install", "outside", "classify_file.c"), tmp)
    p = subprocess.run([FCC, "--linux", "--accel", "-O2", "-Wall", "-Werror", "-o", "cls",
                        "classify_file.c"], cwd=tmp, env=env, capture_output=True, text=True)
    check(p.returncode == 0, "funk-cc --linux --accel classify_file.c", p.stderr)
    cls = os.path.join(tmp, "cls")
    dog = "/usr/share/darknet/data/dog.jpg"
    model_ok = os.path.exists(dog) and subprocess.run(
        [os.path.join(os.path.dirname(FCC), "funk-accel"), "plugins"],
        capture_output=True).returncode == 0
    want_cls = b""
    if model_ok:
        n = subprocess.run([os.path.join(os.path.dirname(FCC), "funk-accel"), "--plugins", "cpu",
                            "classify", dog, "--top", "3"], capture_output=True, timeout=120)
        want_cls = n.stdout  # "LABEL SCORE" lines, the score with 3 decimals, as the function
        check(n.returncode == 0 and want_cls, "native funk-accel classify dog.jpg", n.stderr[-300:])
        bundle = os.path.join(tmp, "bundle")
        os.makedirs(os.path.join(bundle, "img"))
        shutil.copy(dog, os.path.join(bundle, "img"))
        req = os.path.join(tmp, "req.txt")
        open(req, "w").write("/img/dog.jpg")
        for iso in ["process"] + (["kvm"] if kvm else []):
            p = subprocess.run([MONITOR, "--linux", "--isolation=" + iso, "--mem=128",
                                "--bundle=" + bundle, "--fn-input=" + req, cls],
                               capture_output=True, timeout=300)
            check(p.returncode == 0 and p.stdout == want_cls,
                  "%s: classify of the bundle's dog.jpg through ACCEL = the native labels" % iso,
                  (p.returncode, p.stdout, want_cls, p.stderr[-400:]))
    else:
        print("note: no dog.jpg or no cpu plugin here: the ACCEL runs are left out")

    gw = Funkd().start()
    try:
        for name, mode in (("stats", "per-request"), ("stats-warm", "warm")):
            st, _, b = gw.req("POST", "/system/functions",
                              {"service": name, "image": exe, "labels": {"com.funk.mode": mode}})
            check(st == 202, "deploy %s (%s)" % (name, mode), (st, b))
        st, _, b = gw.req("GET", "/system/function/stats")
        check(st == 200 and b"fn-linux" in b, "listed as invocation fn-linux", b[:300])
        for i in (1, 2, 3):
            st, _, got = gw.req("POST", "/function/stats", body)
            check(st == 200 and got == expect(nums, 1), "per request, call %d" % i, (st, got))
        for i in (1, 2, 3):
            vals = nums + [i]
            st, _, got = gw.req("POST", "/function/stats-warm",
                                " ".join(repr(v) for v in vals).encode())
            check(st == 200 and got == expect(vals, i),
                  "warm: call %d served by the same process (served=%d)" % (i, i), (st, got))
        check(gw.wait_log("stats-warm", "served request 3"), "the warm function's log",
              gw.logs("stats-warm"))
        if model_ok:
            st, _, b = gw.req("POST", "/system/functions",
                              {"service": "cls", "image": cls, "labels": {"com.funk.mode": "warm"}})
            check(st == 202, "deploy the ACCEL function", (st, b))
            st, _, got = gw.req("POST", "/function/cls", open(dog, "rb").read(), timeout=300)
            check(st == 200 and got == want_cls, "funkd: dog.jpg in the body, the native labels",
                  (st, got, want_cls))
        st, _, b = gw.req("POST", "/system/functions",
                          {"service": "stats-snap", "image": exe,
                           "labels": {"com.funk.mode": "snapshot"}})
        check(st == 400, "snapshot mode is refused with the reason", (st, b))
        st, _, b = gw.req("POST", "/system/functions",
                          {"service": "stats-kvm", "image": exe,
                           "labels": {"com.funk.isolation": "kvm"}})
        check(st == 400, "com.funk.isolation=kvm is refused with the reason", (st, b))
    finally:
        gw.stop()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done()
