# SPDX-License-Identifier: Apache-2.0
"""bench/python: funk_accel's cost over the C API, measured in one python3 process, interleaved:
    classify  dog.jpg, default model (cpu plugin): Session.image_classify() timed from Python
              (the whole method call: argument parsing, buffer, GIL release, Label objects) vs
              funk_accel_image_classify timed in C (funk_cbench) on the same image and model;
              pairs alternate C/Python so drifts of a shared machine hit both sides alike.
    noop      Session.noop() per call from a Python loop vs funk_accel_noop from a C loop.
Prints N/min/median/p99 per row and the overhead (median of the per-pair ratio)."""
import os
import sys
import time

import funk_accel
import funk_cbench

DOG = "/usr/share/darknet/data/dog.jpg"
PAIRS = int(os.environ.get("BENCH_PYTHON_PAIRS", "40"))
NOOP_BATCHES = int(os.environ.get("BENCH_PYTHON_NOOP_BATCHES", "100"))
NOOP_CALLS = int(os.environ.get("BENCH_PYTHON_NOOP_CALLS", "20000"))
TARGET = 5.0


def stats(v):
    v = sorted(v)
    return v[0], v[len(v) // 2], v[int(round((len(v) - 1) * 0.99))]


def row(name, v, unit):
    mn, md, p99 = stats(v)
    print(f"  {name:<48} {len(v):6d} {mn:12.1f} {md:12.1f} {p99:12.1f}  {unit}")


def main():
    with open(DOG, "rb") as f:
        img = f.read()
    s = funk_accel.Session()
    want = [l.label for l in s.image_classify(img)]
    clock = time.perf_counter_ns
    # Warm both sides (model load, first-call allocations) before timing.
    for _ in range(3):
        funk_cbench.classify_ns(img)
        s.image_classify(img)
    c_ns, py_ns, ratio = [], [], []
    for i in range(PAIRS):
        # Alternate which side goes first so neither always runs on a warmer cache.
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            if side == 0:
                c = funk_cbench.classify_ns(img)
            else:
                t0 = clock()
                got = s.image_classify(img)
                p = float(clock() - t0)
        if [l.label for l in got] != want:
            sys.exit("bench/python: classify answers changed between calls")
        c_ns.append(c / 1e3)
        py_ns.append(p / 1e3)
        ratio.append(p / c)
    noop = s.noop
    n_c, n_py = [], []
    for _ in range(NOOP_BATCHES):
        n_c.append(funk_cbench.noop_ns(NOOP_CALLS))
        t0 = clock()
        for _ in range(NOOP_CALLS):
            noop()
        n_py.append((clock() - t0) / NOOP_CALLS)
    print(f"  {'':<48} {'N':>6} {'min':>12} {'median':>12} {'p99':>12}")
    row("classify dog.jpg, C funk_accel_image_classify", c_ns, "us")
    row("classify dog.jpg, Python Session.image_classify", py_ns, "us")
    row("noop, C funk_accel_noop", n_c, "ns/op")
    row("noop, Python Session.noop", n_py, "ns/op")
    over = (stats(ratio)[1] - 1.0) * 100.0
    _, cm, _ = stats(c_ns)
    _, pm, _ = stats(py_ns)
    print(f"classify overhead of Python over C: {over:+.2f}% (median of {PAIRS} paired ratios; "
          f"medians {pm:.0f} vs {cm:.0f} us, {pm - cm:+.1f} us); target <= {TARGET:.0f}%: "
          f"{'met' if over <= TARGET else 'NOT met'}")
    print(f"classify min vs min: {(stats(py_ns)[0] / stats(c_ns)[0] - 1) * 100:+.2f}% "
          f"(the least disturbed call of each side)")
    print(f"noop: Python adds {stats(n_py)[1] - stats(n_c)[1]:.1f} ns/call "
          f"(labels: {' '.join(want)})")
    s.close()


if __name__ == "__main__":
    main()
