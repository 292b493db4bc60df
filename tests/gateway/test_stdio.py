# SPDX-License-Identifier: Apache-2.0
# stdio functions (OpenFaaS classic-watchdog semantics) on funkd: an unmodified static Linux
# program (Debian's busybox-static) deployed by path with an fprocess, invoked over HTTP: the body
# is its stdin, its stdout the answer (byte-identical to running the same binary natively on the
# same input), exit 0 -> 200 else 500, stderr in the function's log, the request in Http_*
# variables, secrets as files under /var/openfaas/secrets, and what cannot run this way refused
# at deploy (dynamic binaries, warm/snapshot modes, the kvm backend, unikernels forced to stdio).
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, FUNK_CLI, Funkd, check, done, skip  # noqa: E402

BUSYBOX = "/bin/busybox"
if not os.path.exists(BUSYBOX) or subprocess.run(["file", "-L", BUSYBOX], capture_output=True,
                                                 text=True).stdout.find("statically linked") < 0:
    skip("%s is not Debian's busybox-static (apt-get install busybox-static)" % BUSYBOX)

TEXT = ("the quick brown fox jumps over the lazy dog\n" * 300 + "zebra\napple\nmango\n").encode()


def native(args, data):
    p = subprocess.run([BUSYBOX] + args, input=data, capture_output=True)
    return p.returncode, p.stdout


gw = Funkd().start()
try:
    # applets as functions: fprocess is the command line (busybox picks the applet by argv[0])
    cases = {"wc": ["wc", "-w"], "sha": ["sha256sum"], "b64": ["base64"], "sort": ["sort"],
             "md5": ["md5sum"], "upper": ["tr", "a-z", "A-Z"]}
    for name, args in cases.items():
        st, _, b = gw.req("POST", "/system/functions",
                          {"service": name, "image": BUSYBOX, "envProcess": " ".join(args)})
        check(st == 202, "deploy %s (%s) by path with envProcess" % (name, " ".join(args)), (st, b))
    st, _, b = gw.req("GET", "/system/function/wc")
    check(st == 200 and b'"invocation": "stdio"' in b.replace(b'":"', b'": "'),
          "a static ELF without notes deploys as a stdio function", b[:300])
    for name, args in cases.items():
        rc, want = native(args, TEXT)
        st, h, got = gw.req("POST", "/function/" + name, TEXT)
        check(st == 200 and got == want, "%s over HTTP: byte-identical to the native run" % name,
              (st, got[:120], want[:120]))

    # exit status: 0 -> 200, else 500 with what it printed; stderr goes to the function's log
    gw.req("POST", "/system/functions", {"service": "expr", "image": BUSYBOX, "envProcess": "expr 6 * 7"})
    st, _, b = gw.req("POST", "/function/expr", b"")
    check(st == 200 and b == b"42\n", "expr 6 * 7 -> 200 '42'", (st, b))
    gw.req("POST", "/system/functions", {"service": "cat-missing", "image": BUSYBOX,
                                         "envProcess": "cat /no/such/file"})
    st, _, b = gw.req("POST", "/function/cat-missing", b"")
    check(st == 500, "a failing program (exit 1) -> 500", (st, b))
    check(gw.wait_log("cat-missing", "No such file"), "its stderr is in the function's log",
          gw.logs("cat-missing"))

    # the request in the environment, as the classic watchdog passes it
    gw.req("POST", "/system/functions", {"service": "env", "image": BUSYBOX, "envProcess": "env",
                                         "envVars": {"GREETING": "hi"}})
    st, _, b = gw.req("PUT", "/function/env/some/path?x=1&y=two", b"12345",
                      headers={"X-Custom-Thing": "v1", "content-type": "text/plain"})
    env = dict(l.split("=", 1) for l in b.decode().splitlines() if "=" in l)
    for k, v in (("Http_Method", "PUT"), ("Http_Path", "/some/path"), ("Http_Query", "x=1&y=two"),
                 ("Http_Content_Length", "5"), ("Http_ContentLength", "5"),
                 ("Http_X_Custom_Thing", "v1"), ("Http_Content_Type", "text/plain"),
                 ("GREETING", "hi")):
        check(env.get(k) == v, "env: %s=%s" % (k, v), env.get(k))

    # secrets are files at OpenFaaS's path, not variables
    st, _, b = gw.req("POST", "/system/secrets", {"name": "db-pass", "value": "s3cret"})
    check(st in (200, 201), "secret created", (st, b))
    gw.req("POST", "/system/functions", {"service": "sec", "image": BUSYBOX, "secrets": ["db-pass"],
                                         "envProcess": "cat /var/openfaas/secrets/db-pass"})
    st, _, b = gw.req("POST", "/function/sec", b"")
    check(st == 200 and b == b"s3cret", "a secret is readable at /var/openfaas/secrets/NAME", (st, b))

    # nothing of the host is reachable: its files are not the guest's
    gw.req("POST", "/system/functions", {"service": "peek", "image": BUSYBOX,
                                         "envProcess": "cat /etc/hostname"})
    st, _, b = gw.req("POST", "/function/peek", b"")
    check(st == 500 and b"No such file" in b"".join(t.encode() for t in gw.logs("peek")) + b,
          "a host file (/etc/hostname) does not exist for the guest", (st, b, gw.logs("peek")))

    # refused at deploy, with a reason
    dyn = shutil.which("ls") or "/bin/ls"
    for spec, why, word in (
            ({"service": "dyn", "image": os.path.realpath(dyn)}, "a dynamically linked program", "static"),
            ({"service": "warmbb", "image": BUSYBOX, "envProcess": "cat",
              "labels": {"com.funk.mode": "warm"}}, "warm mode", "per request"),
            ({"service": "kvmbb", "image": BUSYBOX, "envProcess": "cat",
              "labels": {"com.funk.isolation": "kvm"}}, "the kvm backend", "process backend"),
            ({"service": "ukstdio", "image": ELF["echo"], "labels": {"com.funk.io": "stdio"}},
             "a funk unikernel forced to stdio", "static Linux programs"),
            ({"service": "badio", "image": BUSYBOX, "labels": {"com.funk.io": "pipe"}},
             "an unknown com.funk.io", "not stdio or fn")):
        st, _, b = gw.req("POST", "/system/functions", spec)
        check(st == 400 and word.encode() in b, "deploy refused: %s" % why, (st, b))

    # a urunc image for another monitor (qemu) holds a kernel, not a Linux program: refused,
    # never run as a stdio function (uploaded as an oci-archive, deployed by digest)
    mk = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oci", "mkimage.py")
    with tempfile.TemporaryDirectory(prefix="funk-urunc-") as t:
        os.makedirs(os.path.join(t, "root"))
        shutil.copy(BUSYBOX, os.path.join(t, "root", "kernel"))
        tar = os.path.join(t, "img.tar")
        for hv, ok in (("qemu", False), ("hvt", True)):
            subprocess.run([sys.executable, mk, os.path.join(t, "root"), "urunc-%s:latest" % hv, tar,
                            "--label", "com.urunc.unikernel.binary=/kernel",
                            "--label", "com.urunc.unikernel.hypervisor=" + hv], check=True)
            st, _, b = gw.req("POST", "/system/images", open(tar, "rb").read(),
                              headers={"Content-Type": "application/x-tar"})
            check(st == 200, "upload of a urunc %s image" % hv, (st, b))
            digest = json.loads(b)["digest"] if st == 200 else "sha256:" + "0" * 64
            st, _, b = gw.req("POST", "/system/functions", {"service": "urunc-" + hv, "image": digest})
            if ok:
                check(st == 202, "a urunc hvt image is loaded (its binary decides what it is)", (st, b))
            else:
                check(st == 400 and b"hypervisor 'qemu'" in b,
                      "a urunc qemu image is refused, not run as a Linux program", (st, b))

    # the funk CLI: the documented form (docs/gateway.md)
    if FUNK_CLI:
        p = subprocess.run([FUNK_CLI, "--gateway", gw.url(), "deploy", "--name", "cliwc", "--image",
                            BUSYBOX, "--fprocess", "wc -w"], capture_output=True, text=True)
        check(p.returncode == 0, "funk deploy --image /bin/busybox --fprocess 'wc -w'", p.stderr)
        p = subprocess.run([FUNK_CLI, "--gateway", gw.url(), "invoke", "cliwc"], input=TEXT,
                           capture_output=True)
        check(p.returncode == 0 and p.stdout == native(["wc", "-w"], TEXT)[1],
              "funk invoke cliwc: the word count", (p.returncode, p.stdout, p.stderr))
finally:
    gw.stop()
done()
