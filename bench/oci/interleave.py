#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# bench/oci driver: times the cases of one group interleaved (A B C, B C A, C A B, ... per
# iteration, so drift in machine load hits every case alike), counts failures apart from the
# timings, and appends one JSON line per case to the results file.
#   interleave.py RESULTS N SPEC.json
# SPEC: {"cases": [{"name": "...", "cmd": [argv...]} | {"name": "...", "http": PORT,
#                   "body": "text"}]}
# A command case fails on a non-zero exit; an http case (POST / on 127.0.0.1:PORT) on a status
# other than 200 or a body other than the one sent. Failed runs are not timed.
import http.client
import json
import subprocess
import sys
import time

WARMUP = 3


def run_cmd(case):
    t = time.perf_counter()
    r = subprocess.run(case["cmd"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=120)
    ms = (time.perf_counter() - t) * 1e3
    if r.returncode != 0:
        return None, "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-300:].strip())
    return ms, None


def run_http(case):
    body = case.get("body", "bench body").encode()
    t = time.perf_counter()
    try:
        c = http.client.HTTPConnection("127.0.0.1", case["http"], timeout=30)
        c.request("POST", "/", body=body)
        r = c.getresponse()
        got = r.read()
        c.close()
    except OSError as e:
        return None, "connection: %s" % e
    ms = (time.perf_counter() - t) * 1e3
    if r.status != 200 or got != body:
        return None, "status %d, body %r" % (r.status, got[:80])
    return ms, None


def run(case):
    try:
        return run_http(case) if "http" in case else run_cmd(case)
    except subprocess.TimeoutExpired:
        return None, "timed out after 120 s"


def main():
    out, n, spec = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
    cases = spec["cases"]
    res = {c["name"]: {"name": c["name"], "xs": [], "errors": 0, "first_error": None}
           for c in cases}
    k = len(cases)
    for i in range(WARMUP + n):
        for j in range(k):
            case = cases[(i + j) % k]  # rotate the order each iteration
            ms, err = run(case)
            if i < WARMUP:
                continue
            r = res[case["name"]]
            if err is None:
                r["xs"].append(ms)
            else:
                r["errors"] += 1
                r["first_error"] = r["first_error"] or err
    with open(out, "a") as f:
        for c in cases:
            f.write(json.dumps(res[c["name"]]) + "\n")
            if res[c["name"]]["errors"]:
                print("bench/oci: %s: %d of %d runs failed; first: %s" %
                      (c["name"], res[c["name"]]["errors"], n, res[c["name"]]["first_error"]),
                      file=sys.stderr)


if __name__ == "__main__":
    main()
