# SPDX-License-Identifier: Apache-2.0
"""wrk's summary, read the same way by every benchmark that drives wrk (bench/gateway,
bench/watchdog): requests, duration and the errors wrk reports."""
import re


def parse(out):
    """(total requests, seconds, errors dict) from wrk's stdout, or None when it has no summary.
    errors: non-2xx (non-2xx or 3xx responses) and each non-zero socket error kind."""
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if not m:
        return None
    dur = float(m.group(2)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(3)]
    errs = {}
    m2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m2:
        errs["non-2xx"] = int(m2.group(1))
    m3 = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m3:
        for k, v in zip(("connect", "read", "write", "timeout"), m3.groups()):
            if int(v):
                errs[k] = int(v)
    return int(m.group(1)), dur, errs
