#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Independent sgemm reference for the transport tests: a naive triple loop in double precision,
# with its own parsing of the inputs, compared element by element with a tolerance.
#   sgemm_ref.py tclient DUMP        DUMP: `tclient sgemm-dump` output (its fixed inputs rebuilt here)
#   sgemm_ref.py body INPUT OUTPUT   INPUT: functions/sgemm request body (u32 M, N, K, A, B);
#                                    OUTPUT: its response body (M*N f32, little-endian)
# Exit 0 when every element is within tolerance, 1 otherwise (the worst element is printed).
import struct
import sys


def naive(m, n, k, alpha, a, lda, b, ldb, beta, c):
    """C = alpha*A*B + beta*C, row-major; also the sum of |terms| per element for the tolerance."""
    out, mag = [], []
    for i in range(m):
        for j in range(n):
            acc = 0.0
            size = 0.0
            for p in range(k):
                t = a[i * lda + p] * b[p * ldb + j]
                acc += t
                size += abs(t)
            cij = c[i * n + j] if c is not None else 0.0
            out.append(alpha * acc + beta * cij)
            mag.append(abs(alpha) * size + abs(beta * cij))
    return out, mag


def compare(got, want, mag, what):
    if len(got) != len(want):
        print("%s: %d elements, want %d" % (what, len(got), len(want)))
        return 1
    worst, at = 0.0, -1
    for i, (g, w, s) in enumerate(zip(got, want, mag)):
        # float32 accumulation error grows with the magnitude of the terms summed.
        err = abs(g - w) / (1e-5 * s + 1e-6)
        if err != err or err > worst:  # NaN counts as the worst
            worst, at = (float("inf") if err != err else err), i
    if worst > 1.0:
        print("%s: element %d is %r, reference %r (%.1fx the tolerance)" % (what, at, got[at], want[at], worst))
        return 1
    print("%s: %d elements within tolerance (worst %.2f of it)" % (what, len(got), worst))
    return 0


def tclient(dump):
    lines = open(dump).read().split()
    if len(lines) < 4 or lines[0] != "sgemm":
        print("not a tclient sgemm-dump output")
        return 1
    m, n, k, lda = int(lines[1]), int(lines[2]), int(lines[3]), 40
    if (m, n, k) != (67, 45, 33):
        print("unexpected dimensions %dx%dx%d" % (m, n, k))
        return 1
    a = [((i * 7 + p * 3) % 19 - 9) / 8.0 if p < k else 1e30 for i in range(m) for p in range(lda)]
    b = [((i * 5) % 23 - 11) / 16.0 for i in range(k * n)]
    c = [(i % 13) / 4.0 for i in range(m * n)]
    want, mag = naive(m, n, k, 1.25, a, lda, b, n, 0.5, c)
    return compare([float(x) for x in lines[4:]], want, mag, "tclient %dx%dx%d" % (m, n, k))


def body(inp, outp):
    data = open(inp, "rb").read()
    m, n, k = struct.unpack_from("<III", data, 0)
    if len(data) != 12 + 4 * (m * k + k * n):
        print("input is not a valid sgemm body")
        return 1
    a = struct.unpack_from("<%df" % (m * k), data, 12)
    b = struct.unpack_from("<%df" % (k * n), data, 12 + 4 * m * k)
    res = open(outp, "rb").read()
    if len(res) != 4 * m * n:
        print("output has %d bytes, want %d (M*N f32)" % (len(res), 4 * m * n))
        return 1
    got = struct.unpack("<%df" % (m * n), res)
    want, mag = naive(m, n, k, 1.0, a, k, b, n, 0.0, None)
    return compare(got, want, mag, "%s %dx%dx%d" % (outp.rsplit("/", 1)[-1], m, n, k))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "tclient":
        sys.exit(tclient(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "body":
        sys.exit(body(sys.argv[2], sys.argv[3]))
    print(__doc__ or "usage: sgemm_ref.py tclient DUMP | body INPUT OUTPUT")
    sys.exit(2)
