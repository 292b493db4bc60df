# SPDX-License-Identifier: Apache-2.0
# funkd control API end to end: functions, scale, secrets, info, logs, metrics, auth, bad input.
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, FUNKD, Funkd, check, done, need_kvm, wait_for  # noqa: E402

need_kvm()

# options
r = subprocess.run([FUNKD, "--help"], capture_output=True, text=True)
check(r.returncode == 0 and "--state-dir" in r.stdout and "--auth" in r.stdout, "funkd --help documents options")
r = subprocess.run([FUNKD, "--bogus"], capture_output=True, text=True)
check(r.returncode == 64 and "--bogus" in r.stderr, "funkd rejects an unknown option (64, named)", (r.returncode, r.stderr))
r = subprocess.run([FUNKD, "--version"], capture_output=True, text=True)
check(r.returncode == 0 and r.stdout.startswith("funkd "), "funkd --version", (r.returncode, r.stdout))
r = subprocess.run([FUNKD, "--bogus", "x", "--help"], capture_output=True, text=True)
check(r.returncode == 64 and "--bogus" in r.stderr, "funkd handles --help in option order: --bogus first", r.stderr)
r = subprocess.run([FUNKD, "--auth=1"], capture_output=True, text=True)
check(r.returncode == 64 and "takes no value" in r.stderr, "funkd --auth=1: takes no value", r.stderr)
r = subprocess.run([FUNKD, "--listen"], capture_output=True, text=True)
check(r.returncode == 64 and "needs a value" in r.stderr, "funkd --listen without a value", r.stderr)
for opt, val in [("--listen", "nonsense"), ("--listen", "127.0.0.1:99999"), ("--max-body", "big"),
                 ("--timeout", "0"), ("--isolation", "vm"), ("--log-level", "loud"), ("--pool", "-1"),
                 ("--async-workers", "0"), ("--idle-timeout", "x")]:
    r = subprocess.run([FUNKD, opt, val], capture_output=True, text=True)
    check(r.returncode == 64 and opt in r.stderr, "funkd rejects %s %s" % (opt, val), r.stderr)
r = subprocess.run([FUNKD, "extra-arg"], capture_output=True, text=True)
check(r.returncode == 64 and "extra-arg" in r.stderr, "funkd rejects a stray argument", r.stderr)

with Funkd() as gw:
    st, _, b = gw.req("GET", "/healthz")
    check(st == 200, "GET /healthz 200")
    st, _, b = gw.req("GET", "/system/info")
    info = json.loads(b)
    check(st == 200 and info["provider"]["provider"] == "funkd" and "release" in info["version"]
          and info["arch"] == "x86_64", "GET /system/info fields", b)
    st, _, b = gw.req("GET", "/system/namespaces")
    check(st == 200 and json.loads(b) == ["openfaas-fn"], "GET /system/namespaces", b)
    st, _, b = gw.req("GET", "/system/functions")
    check(st == 200 and json.loads(b) == [], "empty function list")
    st, _, _ = gw.req("GET", "/nowhere")
    check(st == 404, "unknown path 404")
    st, _, _ = gw.req("GET", "/system/nowhere")
    check(st == 404, "unknown /system path 404")

    # deploy, list, status
    spec = {"service": "echo", "image": ELF["echo"], "envVars": {"A": "1"},
            "labels": {"team": "x"}, "annotations": {"note": "y"}, "limits": {"memory": "16M"},
            "envProcess": "echo"}
    st, _, b = gw.req("POST", "/system/functions", spec)
    check(st == 202, "POST /system/functions deploys", (st, b))
    st, _, b = gw.req("GET", "/system/functions")
    lst = json.loads(b)
    check(st == 200 and len(lst) == 1 and lst[0]["name"] == "echo", "list holds the function", b)
    f = gw.status("echo")
    check(f is not None and f["image"] == ELF["echo"] and f["namespace"] == "openfaas-fn"
          and f["envVars"] == {"A": "1"} and f["labels"] == {"team": "x"}
          and f["annotations"] == {"note": "y"} and f["limits"] == {"memory": "16M"}
          and f["envProcess"] == "echo" and f["invocationCount"] == 0 and f["replicas"] >= 1
          and f["availableReplicas"] >= 1 and f["createdAt"].endswith("Z") and "usage" in f
          and f["isolation"] in ("kvm", "process") and f["mode"] == "per-request"
          and f["memoryBytes"] == 16 << 20, "GET /system/function/echo: FunctionStatus fields", f)
    st, _, _ = gw.req("GET", "/system/function/missing")
    check(st == 404, "status of a missing function 404")
    st, _, b = gw.req("GET", "/system/function/echo?namespace=other")
    check(st == 404, "status in another namespace 404")

    # update
    spec2 = dict(spec, envVars={"A": "2"})
    st, _, _ = gw.req("PUT", "/system/functions", spec2)
    check(st == 202, "PUT updates an existing function")
    check(gw.status("echo")["envVars"] == {"A": "2"}, "update is visible")
    st, _, b = gw.req("PUT", "/system/functions", dict(spec, service="nothere"))
    check(st == 404, "PUT of a missing function 404", (st, b))

    # bad deployments
    st, _, b = gw.req("POST", "/system/functions", b"{not json", {"Content-Type": "application/json"})
    check(st == 400 and b"malformed JSON" in b, "malformed JSON 400", (st, b))
    st, _, b = gw.req("POST", "/system/functions", b"[1,2]")
    check(st == 400, "JSON array body 400", (st, b))
    st, _, b = gw.req("POST", "/system/functions", {"service": "x"})
    check(st == 400 and b"image" in b, "missing image 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"image": ELF["echo"]})
    check(st == 400 and b"service" in b, "missing service 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "bad/name", "image": ELF["echo"]})
    check(st == 400, "bad service name 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": "/nonexistent.elf"})
    check(st == 400 and b"not found" in b, "image not found 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": "/etc/hostname"})
    check(st == 400 and b"not an ELF" in b, "non-ELF image 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": ELF["echo"],
                                                     "labels": {"com.funk.mode": "turbo"}})
    check(st == 400 and b"com.funk.mode" in b, "bad mode label 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": ELF["echo"],
                                                     "limits": {"memory": "lots"}})
    check(st == 400 and b"limits.memory" in b, "bad limits.memory 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": ELF["echo"],
                                                     "secrets": ["nosuch"]})
    check(st == 400 and b"nosuch" in b, "missing secret 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": ELF["echo"],
                                                     "envVars": {"A": 1}})
    check(st == 400 and b"envVars" in b, "non-string envVars 400", b)
    st, _, b = gw.req("POST", "/system/functions", {"service": "x", "image": ELF["echo"],
                                                     "labels": {"com.openfaas.scale.min": "9",
                                                                "com.openfaas.scale.max": "2"}})
    check(st == 400, "scale.min above scale.max 400", b)
    check(len(json.loads(gw.req("GET", "/system/functions")[2])) == 1, "bad deployments left nothing behind")

    # scale
    st, _, b = gw.req("POST", "/system/scale-function/echo", {"serviceName": "echo", "replicas": 2})
    check(st == 409 and b"cannot be scaled" in b, "scale of a per-request function: 409, it has no replicas", (st, b))
    gw.deploy("echow", ELF["echo"], labels={"com.funk.mode": "warm"})
    st, _, _ = gw.req("POST", "/system/scale-function/echow", {"serviceName": "echow", "replicas": 1})
    check(st == 202, "scale 202")
    st, _, _ = gw.req("POST", "/system/scale-function/echow?namespace=openfaas-fn", {"replicas": 0})
    check(st == 202, "scale with the namespace in the query 202")
    gw.req("DELETE", "/system/functions", {"functionName": "echow"})
    st, _, _ = gw.req("POST", "/system/scale-function/missing", {"serviceName": "missing", "replicas": 1})
    check(st == 404, "scale of a missing function 404")
    st, _, _ = gw.req("POST", "/system/scale-function/echo", {"replicas": "two"})
    check(st == 400, "scale with bad replicas 400")
    st, _, _ = gw.req("POST", "/system/scale-function/echo", b"{")
    check(st == 400, "scale with malformed JSON 400")

    # secrets
    st, _, _ = gw.req("POST", "/system/secrets", {"name": "s1", "value": "v1"})
    check(st == 201, "secret create 201", st)
    st, _, _ = gw.req("POST", "/system/secrets", {"name": "s1", "value": "v1"})
    check(st == 409, "secret create twice 409", st)
    st, _, _ = gw.req("POST", "/system/secrets", {"name": "s2", "rawValue": "aGVsbG8="})
    check(st == 201, "secret from rawValue 201", st)
    st, _, b = gw.req("GET", "/system/secrets")
    sl = json.loads(b)
    check(st == 200 and sorted(s["name"] for s in sl) == ["s1", "s2"]
          and all("value" not in s and "rawValue" not in s for s in sl), "secret list, never values", b)
    st, _, _ = gw.req("PUT", "/system/secrets", {"name": "s1", "value": "v2"})
    check(st == 200, "secret update 200", st)
    st, _, _ = gw.req("PUT", "/system/secrets", {"name": "nope", "value": "v2"})
    check(st == 404, "secret update of a missing one 404", st)
    st, _, _ = gw.req("POST", "/system/secrets", {"name": "s3"})
    check(st == 400, "secret without value 400", st)
    st, _, _ = gw.req("POST", "/system/secrets", {"name": "s3", "rawValue": "!!!"})
    check(st == 400, "secret with bad base64 400", st)
    st, _, _ = gw.req("POST", "/system/secrets", b"nope")
    check(st == 400, "secret malformed JSON 400", st)
    st, _, _ = gw.req("DELETE", "/system/secrets", {"name": "s2"})
    check(st == 202, "secret delete 202 (faas-cli accepts 200 or 202)", st)
    st, _, _ = gw.req("DELETE", "/system/secrets", {"name": "s2"})
    check(st == 404, "secret delete of a missing one 404", st)
    st, _, _ = gw.req("PATCH", "/system/secrets", {"name": "s2"})
    check(st == 405, "secret PATCH 405", st)

    # logs: gwtest /log prints its body on the console
    gw.deploy("gwlog", ELF["gwtest"])
    st, _, _ = gw.req("POST", "/function/gwlog/log", "first-line\n")
    check(st == 200, "gwtest /log answers")
    st, h, b = gw.req("GET", "/system/logs?name=gwlog&tail=50")
    lines = [json.loads(x) for x in b.decode().splitlines() if x]
    texts = [x["text"] for x in lines]
    check(st == 200 and h.get("content-type") == "application/x-ndjson" and "first-line" in texts
          and all(set(x) >= {"name", "namespace", "instance", "timestamp", "text"} for x in lines)
          and lines[0]["name"] == "gwlog" and lines[0]["namespace"] == "openfaas-fn",
          "GET /system/logs ndjson", b)
    st, _, b = gw.req("GET", "/system/logs?name=gwlog&tail=1")
    check(st == 200 and len(b.decode().splitlines()) == 1, "logs tail=1 gives one line", b)
    inst = lines[-1]["instance"]
    st, _, b = gw.req("GET", "/system/logs?name=gwlog&instance=" + inst)
    got_i = [json.loads(x) for x in b.decode().splitlines() if x]
    check(st == 200 and got_i and all(x["instance"] == inst for x in got_i), "logs filtered by instance", b)
    st, _, b = gw.req("GET", "/system/logs?name=gwlog&instance=nosuch-instance")
    check(st == 200 and b == b"", "logs of an unknown instance are empty", b)
    st, _, b = gw.req("GET", "/system/logs?name=gwlog&since=2999-01-01T00:00:00Z")
    check(st == 200 and b == b"", "logs since the future is empty", b)
    st, _, _ = gw.req("GET", "/system/logs")
    check(st == 400, "logs without a name 400")
    st, _, _ = gw.req("GET", "/system/logs?name=nosuch")
    check(st == 404, "logs of a missing function 404")
    st, _, _ = gw.req("GET", "/system/logs?name=gwlog&since=yesterday")
    check(st == 400, "logs with a bad since 400")
    # follow: a streaming reader sees a line logged after it connected. funkd registers the
    # reader (its position: the end of the log) before it sends the response headers, so the
    # line is logged once the reader has the headers: an event, not a guessed delay.
    got = []
    connected = threading.Event()

    def follow():
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=20)
        c.request("GET", "/system/logs?name=gwlog&tail=0&follow=true")
        r = c.getresponse()
        connected.set()
        while True:
            line = r.fp.readline()
            if not line:
                break
            if b"followed-line" in line:
                got.append(line)
                break
        c.close()
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    check(connected.wait(20), "logs follow answers with headers before any line")
    gw.req("POST", "/function/gwlog/log", "followed-line\n")
    t.join(15)
    check(len(got) == 1, "logs follow streams new lines", got)

    # garbage on the wire never takes funkd down
    import socket
    for junk in [b"\x00\x01\x02garbage\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
                 b"GET /system/functions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
                 b"POST /function/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 b"GET /function/%00%ff/x HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"BREW /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"]:
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        try:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()
    st, _, _ = gw.req("GET", "/healthz")
    check(st == 200, "funkd survives malformed requests on the wire")

    # metrics
    gw.req("POST", "/function/echo", "x")
    st, h, b = gw.req("GET", "/metrics")
    m = b.decode()
    check(st == 200 and 'gateway_function_invocation_total{code="200",function_name="echo.openfaas-fn"}' in m
          and 'gateway_function_invocation_started{function_name="echo.openfaas-fn"}' in m
          and "gateway_functions_seconds_bucket" in m and 'gateway_service_count{function_name="echo.openfaas-fn"}' in m
          and "funk_boot_seconds_count" in m and 'funk_instances{state="pool"}' in m,
          "GET /metrics has OpenFaaS and funk series", m[:400])
    f = gw.status("echo")
    check(f["invocationCount"] >= 1, "invocationCount counts calls", f["invocationCount"])

    # delete
    st, _, _ = gw.req("DELETE", "/system/functions", {"functionName": "echo"})
    check(st == 202, "DELETE /system/functions 202", st)
    st, _, _ = gw.req("DELETE", "/system/functions", {"functionName": "echo"})
    check(st == 404, "DELETE of a missing function 404", st)
    st, _, _ = gw.req("DELETE", "/system/functions", {"x": 1})
    check(st == 400, "DELETE without functionName 400", st)
    st, _, _ = gw.req("POST", "/function/echo", "x")
    check(st == 404, "invoking a deleted function 404", st)

    # persistence across a restart
    gw.stop()
    gw.start()
    f = gw.status("gwlog")
    check(f is not None and f["createdAt"], "functions survive a restart")
    st, _, b = gw.req("GET", "/system/secrets")
    check([s["name"] for s in json.loads(b)] == ["s1"], "secrets survive a restart", b)
    check(gw.status("echo") is None, "deleted functions stay deleted")

# auth
a = Funkd("--auth")
os.makedirs(os.path.join(a.tmp.name, "sec"))
r = subprocess.run([FUNKD, "--auth", "--state-dir", os.path.join(a.tmp.name, "st"),
                    "--secrets-dir", os.path.join(a.tmp.name, "sec"), "--listen", "127.0.0.1:1"],
                   capture_output=True, text=True, timeout=20)
check(r.returncode == 64 and "basic-auth-user" in r.stderr, "--auth without credential files is refused", r.stderr)
with open(os.path.join(a.tmp.name, "sec", "basic-auth-user"), "w") as f:
    f.write("admin\n")
with open(os.path.join(a.tmp.name, "sec", "basic-auth-password"), "w") as f:
    f.write("  s3cret \n")
a.args += ["--secrets-dir", os.path.join(a.tmp.name, "sec")]
a.auth = "admin:s3cret"
with a:
    st, h, b = a.req("GET", "/system/functions", auth=False)
    check(st == 401 and h.get("www-authenticate") == 'Basic realm="Restricted"' and b"invalid credentials" in b,
          "no credentials: 401 with WWW-Authenticate", (st, h, b))
    import base64
    bad = "Basic " + base64.b64encode(b"admin:wrong").decode()
    st, _, _ = a.req("GET", "/system/functions", headers={"Authorization": bad})
    check(st == 401, "wrong password 401")
    st, _, _ = a.req("GET", "/system/functions", headers={"Authorization": "Basic !!!"})
    check(st == 401, "garbage Authorization 401")
    st, _, _ = a.req("GET", "/system/functions")
    check(st == 200, "right credentials (trimmed from files) 200")
    st, _, _ = a.req("GET", "/healthz", auth=False)
    check(st == 200, "/healthz stays open")
    a.deploy("echo", ELF["echo"])
    st, _, b = a.req("POST", "/function/echo", "open", auth=False)
    check(st == 200 and b == b"open", "/function/* stays open", (st, b))
    st, _, _ = a.req("POST", "/async-function/echo", "open", auth=False)
    check(st == 202, "/async-function/* stays open")
    st, _, _ = a.req("POST", "/system/functions", {"service": "y", "image": ELF["echo"]}, auth=False)
    check(st == 401, "deploy without credentials 401")

    # every /system route and method: 401 without credentials and with each kind of wrong ones
    # (and no effect), the route's own answer with the right ones. In order: the right-credential
    # pass creates what the later rows update or delete.
    a.deploy("authdel", ELF["echo"])

    def basic(raw):
        return "Basic " + base64.b64encode(raw).decode()
    wrong = {"no header": None,
             "wrong password": basic(b"admin:wrong"),
             "wrong user": basic(b"root:s3cret"),
             "password prefix": basic(b"admin:s3cre"),
             "password plus a byte": basic(b"admin:s3cretX"),
             "untrimmed password": basic(b"admin:  s3cret "),
             "empty password": basic(b"admin:"),
             "user only": basic(b"admin"),
             "NUL after the password": basic(b"admin:s3cret\x00tail"),
             "not base64": "Basic !!!",
             "other scheme": "Bearer " + base64.b64encode(b"admin:s3cret").decode(),
             "empty": ""}
    table = [("GET", "/system/functions", None, 200),
             ("POST", "/system/functions", {"service": "authnew", "image": ELF["echo"]}, 202),
             ("PUT", "/system/functions", {"service": "echo", "image": ELF["echo"]}, 202),
             ("DELETE", "/system/functions", {"functionName": "authdel"}, 202),
             ("GET", "/system/function/echo", None, 200),
             ("GET", "/system/function/echo?namespace=openfaas-fn", None, 200),
             ("POST", "/system/scale-function/echo", {"replicas": 1}, 409),
             ("GET", "/system/namespaces", None, 200),
             ("GET", "/system/info", None, 200),
             ("POST", "/system/info", None, 405),
             ("GET", "/system/logs?name=echo&tail=5", None, 200),
             ("GET", "/system/secrets", None, 200),
             ("POST", "/system/secrets", {"name": "authsec", "value": "v1"}, 201),
             ("PUT", "/system/secrets", {"name": "authsec", "value": "v2"}, 200),
             ("DELETE", "/system/secrets", {"name": "authsec"}, 202),
             ("PATCH", "/system/secrets", {"name": "x"}, 405),
             ("GET", "/system/nowhere", None, 404),
             ("GET", "/system/", None, 404)]
    fns_before = sorted(f["name"] for f in json.loads(a.req("GET", "/system/functions")[2]))
    secs_before = a.req("GET", "/system/secrets")[2]
    bad_rows = []
    for method, path, body, want in table:
        for what, h in wrong.items():
            st, hh, b = a.req(method, path, body, headers={"Authorization": h} if h is not None else {}, auth=False)
            if st != 401 or hh.get("www-authenticate") != 'Basic realm="Restricted"' or b"invalid credentials" not in b:
                bad_rows.append((method, path, what, st, b[:60]))
    check(not bad_rows, "every /system route and method: 401 without or with wrong credentials (%d requests)"
          % (len(table) * len(wrong)), bad_rows)
    fns = sorted(f["name"] for f in json.loads(a.req("GET", "/system/functions")[2]))
    check(fns == fns_before and a.req("GET", "/system/secrets")[2] == secs_before,
          "refused requests changed nothing (functions, secrets)", (fns_before, fns))
    got = [(m, p, a.req(m, p, body)[0], want) for m, p, body, want in table]
    check(all(st == want for _, _, st, want in got), "every /system route and method: its own answer with the right credentials",
          [g for g in got if g[2] != g[3]])
    st, _, _ = a.req("GET", "/system/functions", headers={"Authorization": "basic " + base64.b64encode(b"admin:s3cret").decode()})
    check(st == 200, "the scheme name is case-insensitive (RFC 7617)", st)
    # path spellings that must not reach a /system handler without credentials
    leaks = []
    for p in ["/%73ystem/functions", "/system/%66unctions", "//system/functions", "/system//functions",
              "/system/./functions", "/function/../system/functions", "/system/functions/", "/SYSTEM/functions",
              "/system/functions?namespace=openfaas-fn", "/system/function/echo/"]:
        st, _, b = a.req("GET", p, auth=False)
        if st not in (401, 404):
            leaks.append((p, st, b[:80]))
    check(not leaks, "no path spelling reaches /system without credentials (401 or 404)", leaks)

done()
