#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# ACCEL from a unikernel under one backend and one path (the monitor's private funk-accel-agent,
# or one this runner starts): classify or sgemm, each answer checked against a value computed
# here; vision (pose + segmentation of person.jpg) checked for plausibility against the person's box.
"""Exit codes follow meson's protocol: 0 pass, 1 fail, 77 skip (with a loud reason)."""
import argparse
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_case import kvm_problem, skip  # noqa: E402

DOG = "/usr/share/darknet/data/dog.jpg"
PERSON = "/usr/share/darknet/data/person.jpg"
M64 = (1 << 64) - 1


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & M64
    return h


def noop_labels_json(body):
    """What classify answers with the noop plugin, derived from the request bytes alone (the
    plugin hashes the image it is given): proof that the guest's buffer crossed intact."""
    h, labels = fnv1a(body), []
    for i in range(5):
        x = h ^ ((0x9e3779b97f4a7c15 * (i + 1)) & M64)
        x ^= x >> 29
        cid = x % 1000
        labels.append('{"label":"noop%03d","class_id":%d,"score":%s}'
                      % (cid, cid, ("%.6f" % (0.9 - 0.15 * i))))
    return "{\"labels\":[%s]}\n" % ",".join(labels)


def tensor_case(a, tmp):
    """The model-run request (uk_tensor.c) for the test's own model: ONNX for the cpu plugin,
    TorchScript for torch, made here (no download); the answer: y = x W + B and z = relu(y),
    computed here in double from the weights' definition (tests/accel/tensor/make_onnx.py)."""
    if a.plugin == "torch":
        if not a.make_ts:
            skip("the torch plugin is not built (no libtorch-dev)")
        path, fmt, cmd = os.path.join(tmp, "model.pt"), 1, [a.make_ts]
    else:
        py = next((p for p in ("/usr/bin/python3", sys.executable)
                   if subprocess.run([p, "-c", "import onnx"], capture_output=True).returncode == 0),
                  None)
        if py is None:
            skip("python3-onnx is missing (scripts/deps.sh installs it)")
        path, fmt, cmd = os.path.join(tmp, "model.onnx"), 0, [py, a.make_onnx]
    subprocess.run(cmd + [path], check=True)
    model = open(path, "rb").read()
    x = [1.0, -2.0, 3.0, 0.5, -1.0, 0.25, 2.0, -3.0]
    y = [sum(x[b * 4 + i] * (0.1 * (3 * i + j) - 0.5) for i in range(4)) + 0.25 * j - 0.3
         for b in range(2) for j in range(3)]
    body = struct.pack("<II", len(model), fmt) + model + struct.pack("<8f", *x)
    return body, y + [max(v, 0.0) for v in y]


def sgemm_case(m, n, k):
    """A request body and the exact product: entries are multiples of 1/16 below 1, so every
    product and partial sum is exact in float32 whatever the summation order."""
    a = [((i * 7) % 19 - 9) / 16.0 for i in range(m * k)]
    b = [((i * 5) % 23 - 11) / 16.0 for i in range(k * n)]
    c = [sum(a[i * k + p] * b[p * n + j] for p in range(k)) for i in range(m) for j in range(n)]
    body = struct.pack("<III", m, n, k) + struct.pack("<%df" % len(a), *a)
    body += struct.pack("<%df" % len(b), *b)
    return body, struct.pack("<%df" % len(c), *c)


# Where darknet's person.jpg has its person, in fractions of the image (detect's box, x 0.29..0.43,
# y 0.26..0.89, with a margin): every confident keypoint and the mask's box must lie there.
PERSON_BOX = (0.24, 0.20, 0.48, 0.95)


def vision_problems(out):
    """Plausibility of the vision function's JSON answer for person.jpg."""
    import json
    try:
        ans = json.loads(out)
        kps = {k["name"]: k for k in ans["keypoints"]}
        m = ans["mask"]
    except (ValueError, KeyError, TypeError) as e:
        return ["answer is not the vision JSON (%s)" % e]
    x0, y0, x1, y1 = PERSON_BOX
    problems = []
    if len(kps) != 17 or "nose" not in kps or "left_hip" not in kps:
        problems.append("expected the 17 COCO keypoints, got %s" % sorted(kps))
        return problems
    sure = [k for k in kps.values() if k["score"] >= 0.3]
    off = [k["name"] for k in sure if not (x0 <= k["x"] <= x1 and y0 <= k["y"] <= y1)]
    if len(sure) < 8 or off:
        problems.append("%d confident keypoints, off the person: %s" % (len(sure), off))
    if not kps["nose"]["y"] < kps["left_hip"]["y"]:
        problems.append("the nose is not above the hips")
    if m["w"] != 64 or m["h"] != 48:
        problems.append("mask is %dx%d, asked for 64x48" % (m["w"], m["h"]))
    elif not (0.02 * 64 * 48 < m["on"] < 0.2 * 64 * 48):
        problems.append("mask covers %d of %d pixels" % (m["on"], 64 * 48))
    else:
        bx0, by0, bx1, by1 = m["box"]
        if not (bx0 / 64 >= x0 and (bx1 + 1) / 64 <= x1 and by0 / 48 >= y0 - 0.05 and
                (by1 + 1) / 48 <= y1):
            problems.append("mask box %s lies off the person" % m["box"])
    return problems


class Agent:
    """funk-accel-agent on a socket in a private directory; ready when it says it listens."""

    def __init__(self, path, plugin, tmp, deadline_s=20.0):
        self.addr = "unix://" + os.path.join(tmp, "accel.sock")
        env = dict(os.environ, FUNK_ACCEL_LOG_LEVEL="info")
        self.p = subprocess.Popen([path, "--listen", self.addr, "--plugins", plugin],
                                  stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        self.log = b""
        end = time.monotonic() + deadline_s
        while b"listening on " + self.addr.encode() not in self.log:
            left = end - time.monotonic()
            if left <= 0 or self.p.poll() is not None:
                self.stop()
                print("FAIL: the agent did not listen within %.0f s:\n%s"
                      % (deadline_s, self.log.decode(errors="replace")))
                sys.exit(1)
            r, _, _ = select.select([self.p.stderr], [], [], left)
            if r:
                chunk = os.read(self.p.stderr.fileno(), 4096)
                if not chunk:
                    self.p.wait(5)
                self.log += chunk

    def stop(self):
        """Stops the agent; returns its whole log."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            _, rest = self.p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            _, rest = self.p.communicate()
        self.log += rest or b""
        return self.log.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--monitor", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--function", required=True, choices=["classify", "sgemm", "vision", "tensor"])
    ap.add_argument("--isolation", required=True, choices=["kvm", "process"])
    ap.add_argument("--accel", required=True, choices=["private", "agent"])
    ap.add_argument("--plugin", required=True, choices=["noop", "cpu", "torch"])
    ap.add_argument("--make-onnx", help="tests/accel/tensor/make_onnx.py (tensor)")
    ap.add_argument("--make-ts", help="the make_torchscript program (tensor, torch)")
    ap.add_argument("--limit", type=float, default=120.0)
    a = ap.parse_args()

    if a.isolation == "kvm":
        problem = kvm_problem()
        if problem:
            skip("ACCEL under KVM needs a working /dev/kvm: " + problem)
    tmp = tempfile.TemporaryDirectory(prefix="funk-accel-uk-")
    req = os.path.join(tmp.name, "request.bin")
    want_labels = None
    want_floats = None
    if a.function == "tensor":
        body, want_floats = tensor_case(a, tmp.name)
        want = None
    elif a.function == "vision":
        models = [os.path.join(os.environ.get("FUNK_MODEL_DIR", ""), m)
                  for m in ("centernet.onnx", "movenet.onnx", "selfie.onnx")]
        missing = [f for f in [PERSON] + models if not os.access(f, os.R_OK)]
        if a.plugin != "cpu" or missing:
            skip("vision needs the cpu plugin, %s (Debian darknet) and the models "
                 "(scripts/models.sh); missing: %s" % (PERSON, ", ".join(missing) or a.plugin))
        body, want = open(PERSON, "rb").read(), None
    elif a.function == "sgemm":
        body, want = sgemm_case(7, 5, 6)
    elif a.plugin == "noop":
        # Any bytes do for the noop plugin; the size makes the image span several pages.
        body = bytes((i * 131 + (i >> 7)) & 0xFF for i in range(20000))
        want = noop_labels_json(body).encode()
    else:
        model = os.path.join(os.environ.get("FUNK_MODEL_DIR", ""), "centernet.onnx")
        if not os.access(DOG, os.R_OK) or not os.access(model, os.R_OK):
            skip("classify with the cpu plugin needs %s (Debian darknet) and %s "
                 "(scripts/models.sh)" % (DOG, model))
        body, want, want_labels = open(DOG, "rb").read(), None, ['"label":"dog"', '"label":"car"']
    with open(req, "wb") as f:
        f.write(body)

    env = dict(os.environ)
    cmd = [a.monitor, "--isolation=" + a.isolation, "--mem=64", "--timeout=%d" % a.limit]
    agent = None
    if a.accel == "agent":
        agent = Agent(a.agent, a.plugin, tmp.name)
        cmd.append("--accel=agent:" + agent.addr)
        env["FUNK_ACCEL_PLUGINS"] = "none-in-the-monitor"  # a private agent would fail
    else:
        # The monitor's own agent child (the default), found beside it in the build tree; it
        # takes its plugins from the environment the monitor hands on.
        cmd.append("--accel=private")
        env["FUNK_ACCEL_AGENT"] = a.agent
        env["FUNK_ACCEL_PLUGINS"] = a.plugin
        env["FUNK_ACCEL_LOG_LEVEL"] = "info"
    cmd += ["--fn-input=" + req, a.kernel]
    print("run: " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=a.limit + 30, env=env)
    except subprocess.TimeoutExpired:
        p = None
    wall = time.monotonic() - t0
    agent_log = agent.stop() if agent else ""

    problems = []
    if p is None:
        problems.append("the monitor did not finish within %.0f s" % (a.limit + 30))
    else:
        out, err = p.stdout, p.stderr.decode(errors="replace")
        shown = out if len(out) < 1200 else out[:1200] + b"..."
        print("exit %d after %.3f s\n--- stdout ---\n%r\n--- stderr ---\n%s--------------"
              % (p.returncode, wall, shown, err), flush=True)
        if p.returncode < 0:
            sig = -p.returncode
            problems.append("monitor killed by signal %d (%s)%s" % (
                sig, signal.Signals(sig).name,
                ": a system call outside its seccomp filter" if sig == signal.SIGSYS else ""))
        elif p.returncode != 0:
            problems.append("exit code %d, expected 0" % p.returncode)
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if bad in err:
                problems.append("sanitizer report in the monitor's stderr")
        if want is not None and out != want:
            if a.function == "sgemm" and len(out) == len(want):
                got = struct.unpack("<%df" % (len(out) // 4), out)
                exp = struct.unpack("<%df" % (len(want) // 4), want)
                i = next(i for i in range(len(got)) if got[i] != exp[i])
                problems.append("product differs from the reference at C[%d][%d]: %r, want %r"
                                % (i // 5, i % 5, got[i], exp[i]))
            else:
                problems.append("answer (%d bytes) is not the expected %d bytes: %r"
                                % (len(out), len(want), want[:300]))
        if want_floats is not None:
            if p.returncode != 0 or len(out) != 4 * len(want_floats):
                problems.append("answer is not %d floats: %r" % (len(want_floats), out[:300]))
            else:
                got = struct.unpack("<%df" % len(want_floats), out)
                for i, (g, w) in enumerate(zip(got, want_floats)):
                    if abs(g - w) > 1e-5:
                        problems.append("output %d is %r, reference %r" % (i, g, w))
        for s in want_labels or []:
            if s.encode() not in out:
                problems.append("answer lacks %s" % s)
        if a.function == "vision" and p.returncode == 0:
            problems += vision_problems(out)
    if not agent and p is not None:
        # The answer came from the monitor's private agent child (a connection it served), and
        # the plugin was loaded there: the monitor itself loads none.
        err = p.stderr.decode(errors="replace")
        if "[agent] connection 1 from private" not in err:
            problems.append("the private agent did not serve the guest's connection")
    if agent:
        print("--- agent ---\n" + agent_log + "-------------")
        # The answer must have come through the agent: one connection, nothing malformed.
        if "1 connections served" not in agent_log:
            problems.append("the agent did not serve exactly one connection")
        if " 0 refused as malformed" not in agent_log:
            problems.append("the agent refused malformed frames")
    if problems:
        for pr in problems:
            print("FAIL: " + pr)
        return 1
    print("PASS: %s via %s (%s plugin) under %s, answer checked" %
          (a.function, a.accel, a.plugin, a.isolation))
    return 0


if __name__ == "__main__":
    sys.exit(main())
