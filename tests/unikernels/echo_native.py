#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# End-to-end test of funk-echo-native: the echo function's native build answers one CGI-style
# request from its environment and stdin (body only, or Status/headers with FUNK_FN_CGI=1).
import os
import subprocess
import sys

exe = sys.argv[1]
body = bytes(range(256)) * 4 + b"\0tail"  # binary, with NULs
env = dict(os.environ, REQUEST_METHOD="PUT", PATH_INFO="/a/b", QUERY_STRING="x=1&y=2",
           HTTP_X_TRACE_ID="abc", CONTENT_TYPE="application/x-test")
failures = []

p = subprocess.run([exe], input=body, env=env, capture_output=True, timeout=30)
if p.returncode != 0 or p.stdout != body:
    failures.append("body mode: exit %d, %d bytes out (expected the %d-byte body back)"
                    % (p.returncode, len(p.stdout), len(body)))

env["FUNK_FN_CGI"] = "1"
p = subprocess.run([exe], input=body, env=env, capture_output=True, timeout=30)
head, sep, rest = p.stdout.partition(b"\r\n\r\n")
lines = head.decode(errors="replace").split("\r\n")
for want in ("Status: 200", "Content-Type: application/x-test", "X-Echo-Method: PUT",
             "X-Echo-Path: /a/b", "X-Echo-Query: x=1&y=2", "X-Echo-H-X-Trace-Id: abc",
             "X-Echo-Id: 0"):
    if want not in lines:
        failures.append("CGI mode: header line %r missing in %r" % (want, lines))
if not sep or rest != body:
    failures.append("CGI mode: body not echoed after the header block")

# No environment at all: defaults POST / and an empty body still get a valid answer.
p = subprocess.run([exe], input=b"", env={"FUNK_FN_CGI": "1"}, capture_output=True, timeout=30)
if p.returncode != 0 or b"X-Echo-Method: POST\r\n" not in p.stdout:
    failures.append("defaults: exit %d, output %r" % (p.returncode, p.stdout[:200]))

for f in failures:
    print("FAIL: " + f)
print("PASS" if not failures else "%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
