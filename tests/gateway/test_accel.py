# SPDX-License-Identifier: Apache-2.0
# funkd serving ACCEL end to end: the classify unikernel deployed per-request and warm answers
# dog.jpg with the labels and scores funk-accel prints natively, through funkd's private
# funk-accel-agent child (--accel=private, the default: no plugin is ever loaded into funkd) and
# through an agent at --accel=agent:ADDR; snapshot mode is refused at deploy with the reason; bad
# --accel values and bad images get clear errors.
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import FUNKD, Funkd, check, done, need_kvm, skip  # noqa: E402

need_kvm()
IMG = "/usr/share/darknet/data/dog.jpg"
CLASSIFY = os.environ.get("CLASSIFY_ELF", "")
FUNK_ACCEL = os.environ.get("FUNK_ACCEL_BIN", "")
AGENT = os.environ.get("ACCEL_AGENT", "")
if not os.path.exists(IMG):
    skip(IMG + " missing (Debian package darknet)")
if not os.path.exists(os.path.join(os.environ.get("FUNK_MODEL_DIR", ""), "centernet.onnx")):
    skip("no classification model in FUNK_MODEL_DIR (scripts/models.sh)")
for what, p in (("CLASSIFY_ELF", CLASSIFY), ("FUNK_ACCEL_BIN", FUNK_ACCEL), ("ACCEL_AGENT", AGENT)):
    if not p or not os.path.exists(p):
        print("FAIL: %s is not set to a built file (%r)" % (what, p))
        sys.exit(1)
os.environ["FUNK_ACCEL_PLUGINS"] = "cpu"
with open(IMG, "rb") as f:
    dog = f.read()

# The reference: the same model natively, through funk-accel (one "label score" line each, %.3f).
r = subprocess.run([FUNK_ACCEL, "classify", IMG], capture_output=True, text=True, timeout=120)
want = []
for line in r.stdout.splitlines():
    label, _, score = line.rpartition(" ")
    want.append((label, score))
check(r.returncode == 0 and len(want) >= 3, "funk-accel classify dog.jpg natively", (r.returncode, r.stderr[-500:]))
names = [w[0] for w in want]
check({"dog", "car", "bicycle"} <= set(names), "native answer names dog, car and bicycle", names)


def same_as_native(body, what):
    try:
        got = [(x["label"], "%.3f" % x["score"]) for x in json.loads(body)["labels"]]
    except (ValueError, KeyError, TypeError) as e:
        check(False, what, "not the labels JSON (%s): %r" % (e, body[:300]))
        return
    check(len(got) >= 3 and got == want[:len(got)] and {"dog", "car", "bicycle"} <= {g[0] for g in got},
          what + ": dog, car, bicycle with funk-accel's scores", (got, want))


def deploy_err(gw, name, labels):
    st, _, b = gw.req("POST", "/system/functions", {"service": name, "image": CLASSIFY, "labels": labels,
                                                     "limits": {"memory": "64Mi"}})
    return st, b.decode(errors="replace")


def run_modes(gw, how):
    for mode in ("per-request", "warm"):
        name = "cls-" + mode
        gw.deploy(name, CLASSIFY, labels={"com.funk.mode": mode}, memory="64Mi")
        for i in range(2 if mode == "warm" else 1):
            t0 = time.time()
            st, h, b = gw.req("POST", "/function/" + name, dog, {"Content-Type": "image/jpeg"})
            check(st == 200 and h.get("content-type") == "application/json",
                  "%s %s call %d: 200 application/json (%.0f ms)" % (how, mode, i + 1, (time.time() - t0) * 1e3),
                  (st, h.get("content-type"), b[:300]))
            same_as_native(b, "%s %s call %d" % (how, mode, i + 1))
    st, b = deploy_err(gw, "cls-snap", {"com.funk.mode": "snapshot"})
    check(st == 400 and "ACCEL" in b and "warm" in b, how + ": snapshot mode refused at deploy with the reason", (st, b))
    return st, b


def children(pid):
    """The comm names of pid's children (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            if int(rest[1]) == pid:
                out.append(comm)
    return out


# 1. funkd's private agent (the default).
with Funkd() as gw:
    st, b = run_modes(gw, "private")
    check("funk-accel-agent connection" in b, "private: the snapshot refusal names the agent connection", b)
    check("accel private" in gw.logtext(), "private: funkd logs its ACCEL mode")
    maps = open("/proc/%d/maps" % gw.proc.pid).read()
    check("libfunk-accel-cpu" not in maps and "libfunk-accel.so" not in maps,
          "private: no plugin and no libfunk-accel mapped in funkd")
    check("funk-accel-agen" in children(gw.proc.pid), "private: funkd's agent child serves the calls",
          children(gw.proc.pid))
    st, _, b = gw.req("POST", "/function/cls-warm", b"this is not an image")
    check(st == 400 and b'"error":"classify' in b, "private: a body that is no image gets 400 + the reason", (st, b[:200]))
    st, _, b = gw.req("POST", "/function/cls-per-request", b"")
    check(st == 400 and b"empty body" in b, "private: an empty body gets 400 + the reason", (st, b[:200]))

# 2. Through funk-accel-agent.
with tempfile.TemporaryDirectory(prefix="funkd-accel-") as tmp:
    sock = os.path.join(tmp, "accel.sock")
    alog = open(os.path.join(tmp, "agent.log"), "wb")
    agent = subprocess.Popen([AGENT, "--listen", "unix://" + sock, "--plugins", "cpu"], stdout=alog, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock) and time.time() < deadline and agent.poll() is None:
            time.sleep(0.05)
        check(os.path.exists(sock), "funk-accel-agent listens")
        gw = Funkd("--accel", "agent:unix://" + sock)
        with gw:
            st, b = run_modes(gw, "agent")
            check("funk-accel-agent connection" in b, "agent: the snapshot refusal names the shared agent connection", b)
            check("accel agent:unix://" in gw.logtext(), "agent: funkd logs its ACCEL mode")
        # The agent gone: a call gets an error answer, not a hang or a crash.
        agent.terminate()
        agent.wait(20)
        gw2 = Funkd("--accel", "agent:unix://" + sock)
        with gw2:
            gw2.deploy("cls", CLASSIFY, labels={"com.funk.mode": "per-request"}, memory="64Mi")
            st, _, b = gw2.req("POST", "/function/cls", dog)
            check(st >= 500 and (b"accelerator" in b or b"classify" in b),
                  "agent down: the call gets a 5xx with the reason (%d %s)" % (st, b[:100]), b[:300])
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        alog.close()

# 3. Bad --accel values: refused at start with exit 64 (usage error) and the option named.
for v in ("gpu", "agent:", "agent:ftp://x"):
    r = subprocess.run([FUNKD, "--accel", v, "--state-dir", "/nonexistent-unused"], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 64 and "--accel" in r.stderr, "funkd --accel %s: exit 64 naming --accel" % v,
          (r.returncode, r.stderr[-300:]))
r = subprocess.run([FUNKD, "--help"], capture_output=True, text=True, timeout=20)
check(r.returncode == 0 and "--accel MODE" in r.stdout and "agent:ADDR" in r.stdout, "funkd --help documents --accel")

done()
