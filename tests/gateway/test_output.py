# SPDX-License-Identifier: Apache-2.0
# Function output is hostile: a guest printing a forged funkd line, terminal escapes, CR and
# invalid UTF-8 shows up escaped and tagged with the function's name in funkd's stderr log and
# in /system/logs; a response body over funkd's --max-response cap gets 502, funkd stays healthy.
import os
import re

from gwlib import ELF, Funkd, check, done, need_kvm, wait_for

need_kvm()
FORGED = b"2026-12-05T00:00:00.000Z funkd info: forged-by-guest"
OUT = (b"pre\n" + FORGED + b"\n" +
       b"esc \x1b[31mred\x1b[0m cr\rover bell\x07 c1\xc2\x9b bad\xff\xfe utf8-ok \xc3\xa9 end\n")

with Funkd("--log-output", "--max-response", "4096", "--max-body", "65536") as gw:
    gw.deploy("gwout", ELF["gwtest"])
    st, _, _ = gw.req("POST", "/function/gwout/log", OUT)
    check(st == 200, "gwtest /log answers", st)

    # /system/logs: every byte a guest wrote is there, escaped, on the line it was written on
    texts = wait_for(lambda: [t for t in gw.logs("gwout") if "utf8-ok" in t] and gw.logs("gwout"))
    line = next((t for t in texts or [] if "utf8-ok" in t), "")
    want = ("esc \\e[31mred\\e[0m cr\\rover bell\\x07 c1\\xc2\\x9b bad\\xff\\xfe utf8-ok \u00e9 end")
    check(line == want, "/system/logs text escaped (ESC, CR, C0, C1, invalid UTF-8), valid UTF-8 kept",
          (line, want, texts))
    check(all(not re.search(r"[\x00-\x1f\x7f-\x9f]", t) for t in texts or []),
          "/system/logs texts hold no control characters", texts)
    check(any(t == FORGED.decode() for t in texts or []), "the forged line is a function log line",
          texts)

    # funkd's stderr: function output is tagged "fn NAME.NS[INSTANCE]:" and escaped
    def logged():
        with open(gw.log, "rb") as f:
            raw = f.read()
        return raw if b"utf8-ok" in raw else None
    raw = wait_for(logged) or b""
    check(b"\x1b" not in raw and b"\r" not in raw and b"\x07" not in raw and b"\xff" not in raw,
          "funkd's stderr log holds no raw ESC, CR, BEL or invalid UTF-8", raw[-3000:])
    lines = raw.split(b"\n")
    tag = re.compile(rb"^\S+ fn gwout\.openfaas-fn\[[^\]\s]+\]: ")
    forged = [l for l in lines if b"forged-by-guest" in l]
    check(forged and all(tag.match(l) for l in forged) and not any(l.startswith(FORGED) for l in lines),
          "a forged funkd line is tagged with the function name, never a line of its own", forged)
    out = [l for l in lines if b"utf8-ok" in l]
    check(len(out) == 1 and tag.match(out[0]) and out[0].endswith(want.encode()),
          "function output on funkd's stderr: tagged, escaped, one line", out)

    # response caps: the echo answer is the request body
    st, _, b = gw.req("POST", "/function/gwout/echo", b"x" * 8192)
    check(st == 502 and b"--max-response" in b and b"8192" in b,
          "a response body over --max-response gets 502 with the reason", (st, b[:300]))
    st, _, b = gw.req("POST", "/function/gwout/echo", b"y" * 4096)
    check(st == 200 and b == b"y" * 4096, "a response body at the cap passes", (st, len(b)))
    st, _, b = gw.req("GET", "/function/gwout/headers?bytes=100000")
    check(st == 502 and b"headers of 100000 bytes" in b, "response headers over 64 KiB get 502",
          (st, b[:300]))
    st, h, b = gw.req("GET", "/function/gwout/headers?bytes=1000")
    check(st == 200 and len(h.get("x-big", "")) == 1000 - 8, "response headers under the cap pass",
          (st, b[:300]))
    st, _, _ = gw.req("GET", "/healthz")
    check(st == 200 and gw.proc.poll() is None, "funkd healthy after an oversized response", st)

    # exec mode (a native process): its stderr goes to the function's log, escaped and tagged,
    # not raw onto funkd's stderr; its output is held to the same cap (and the child ended)
    xdir = os.path.join(gw.tmp.name, "exec")
    os.makedirs(xdir)
    err = os.path.join(xdir, "err.sh")
    with open(err, "w") as f:
        f.write("#!/bin/sh\n"
                "printf 'x1\\n%s\\n\\033[2Jxesc\\r\\n' >&2\n"
                "printf 'Status: 200\\r\\n\\r\\nok'\n" % FORGED.decode().replace("guest", "exec"))
    big = os.path.join(xdir, "big.sh")
    with open(big, "w") as f:
        f.write("#!/bin/sh\nprintf 'Status: 200\\r\\n\\r\\n'\n"
                "exec head -c 100000000 /dev/zero\n")
    os.chmod(err, 0o755)
    os.chmod(big, 0o755)
    gw.deploy("xerr", err, labels={"com.funk.invoke": "exec"})
    gw.deploy("xbig", big, labels={"com.funk.invoke": "exec"})
    st, _, b = gw.req("POST", "/function/xerr", b"")
    check(st == 200 and b == b"ok", "exec function answers", (st, b))
    texts = wait_for(lambda: [t for t in gw.logs("xerr") if "xesc" in t] and gw.logs("xerr")) or []
    check("\\e[2Jxesc\\r" in texts and FORGED.decode().replace("guest", "exec") in texts,
          "exec stderr reaches /system/logs escaped, line by line", texts)
    raw = open(gw.log, "rb").read()
    xl = [l for l in raw.split(b"\n") if b"forged-by-exec" in l or b"xesc" in l]
    check(b"\x1b" not in raw and xl and all(re.match(rb"^\S+ fn xerr\.openfaas-fn\[", l) for l in xl),
          "exec stderr on funkd's stderr only tagged and escaped", xl)
    st, _, b = gw.req("POST", "/function/xbig", b"", timeout=30)
    check(st == 502 and b"--max-response" in b, "exec output over --max-response gets 502", (st, b[:200]))
    st, _, _ = gw.req("GET", "/healthz")
    check(st == 200 and gw.proc.poll() is None, "funkd healthy after an oversized exec output", st)

with Funkd() as gw:
    # without --log-output function output stays out of funkd's stderr (still in /system/logs)
    gw.deploy("gwquiet", ELF["gwtest"])
    st, _, _ = gw.req("POST", "/function/gwquiet/log", b"quiet-line\n")
    check(st == 200 and wait_for(lambda: "quiet-line" in gw.logs("gwquiet")),
          "output reaches /system/logs", st)
    check("quiet-line" not in gw.logtext(), "without --log-output it stays out of stderr")

done()
