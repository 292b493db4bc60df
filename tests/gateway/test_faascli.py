# SPDX-License-Identifier: Apache-2.0
# funkd as faas-cli 0.16-0.18 and the OpenFaaS gateway 0.25 see it: every /system call sent the
# way faas-cli sends it (method, path, query, headers, JSON bodies as Go marshals faas-provider's
# types) with the status codes faas-cli accepts; /system/info in the gateway shape (funkd in
# front) and the provider shape (--role provider, behind the OpenFaaS gateway, called the way the
# gateway calls its provider); DNS-1123 names; no guest run before a request; scale of a
# per-request function refused.
import base64
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, FUNKD, Funkd, check, done, need_kvm, wait_for  # noqa: E402

need_kvm()

# What faas-cli's proxy package accepts (proxy/deploy.go, delete.go, scale.go, secret.go)
DEPLOY_OK = (200, 201, 202)
DELETE_FN_OK = (200, 201, 202)
SCALE_OK = (200, 201, 202)
SECRET_CREATE_OK = (200, 201, 202)
SECRET_UPDATE_OK = (200, 202)
SECRET_REMOVE_OK = (200, 202)

UA = {"User-Agent": "faas-cli/0.16.11", "Accept-Encoding": "gzip"}


def cli(gw, method, path, body=None):
    """A request as faas-cli's proxy.Client sends it: Content-Type only with a body, its
    User-Agent, the body marshalled by encoding/json (compact, struct field order)."""
    h = dict(UA)
    data = None
    if isinstance(body, bytes):  # faas-cli invoke: the body as is, its default content type
        data = body
        h["Content-Type"] = "text/plain"
    elif body is not None:
        data = json.dumps(body, separators=(",", ":")).encode()
        h["Content-Type"] = "application/json"
    return gw.req(method, path, data, h)


def deployment(name, image, labels=None, namespace=None, env=None, secrets=None):
    """types.FunctionDeployment as faas-cli marshals it: labels and annotations are pointers to
    maps, so a stack without them sends null; omitempty fields are left out."""
    d = {"service": name, "image": image}
    if namespace:
        d["namespace"] = namespace
    if env:
        d["envVars"] = env
    if secrets:
        d["secrets"] = secrets
    d["labels"] = labels
    d["annotations"] = None
    return d


def faas_deploy(gw, spec):
    """faas-cli deploy: PUT (update) first, POST when that says 404 (proxy.DeployFunction)."""
    st, h, b = cli(gw, "PUT", "/system/functions", spec)
    if st == 404:
        st, h, b = cli(gw, "POST", "/system/functions", spec)
    return st, b


def rfc3339(s):
    """Parses what Go's time.Time unmarshals (RFC 3339, optional fraction)."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def hello_runs(gw, name):
    return sum(1 for t in gw.logs(name) if "Hello from a funk unikernel" in t)


def quiet(gw, name):
    """After a call of a console-style function: pre-booting is off and no guest is alive, so
    every run so far has logged its lines."""
    s = gw.status(name)
    return s is not None and s.get("preboot") == 0 and s.get("instances") == 0


r = subprocess.run([FUNKD, "--help"], capture_output=True, text=True)
check(r.returncode == 0 and "--role" in r.stdout, "funkd --help documents --role")
r = subprocess.run([FUNKD, "--role", "frontend"], capture_output=True, text=True)
check(r.returncode == 64 and "--role" in r.stderr, "funkd rejects --role frontend", r.stderr)

with Funkd() as gw:
    # ---- /system/info: the gateway shape (proxy.GetSystemInfo reads types.GatewayInfo) --------
    st, _, b = cli(gw, "GET", "/system/info")
    info = json.loads(b)
    p = info.get("provider")
    check(st == 200 and isinstance(p, dict) and p.get("provider") == "funkd"
          and isinstance(p.get("orchestration"), str) and isinstance(p.get("version"), dict)
          and isinstance(p["version"].get("sha"), str) and isinstance(p["version"].get("release"), str)
          and isinstance(info.get("version"), dict) and isinstance(info["version"].get("release"), str)
          and isinstance(info.get("arch"), str) and info["arch"],
          "GET /system/info as faas-cli reads it: GatewayInfo with a ProviderInfo object", b)

    # ---- deploy, update, list, describe as faas-cli does them -------------------------------
    st, b = faas_deploy(gw, deployment("echo-a", ELF["echo"]))
    check(st in DEPLOY_OK, "faas-cli deploy of a new function (PUT 404, then POST): accepted status", (st, b))
    st, b = faas_deploy(gw, deployment("echo-a", ELF["echo"], env={"A": "1"}))
    check(st in DEPLOY_OK, "faas-cli deploy of an existing function (PUT): accepted status", (st, b))
    st, _, b = cli(gw, "GET", "/system/functions")
    lst = json.loads(b)
    f = lst[0] if st == 200 and len(lst) == 1 else {}
    ok = (f.get("name") == "echo-a" and isinstance(f.get("image"), str) and f.get("namespace") == "openfaas-fn"
          and isinstance(f.get("invocationCount"), (int, float)) and isinstance(f.get("replicas"), int)
          and f["replicas"] >= 0 and isinstance(f.get("availableReplicas"), int) and f["availableReplicas"] >= 0
          and f.get("envVars") == {"A": "1"})
    try:
        rfc3339(f.get("createdAt", ""))
    except ValueError:
        ok = False
    check(ok, "GET /system/functions: FunctionStatus fields with the types faas-provider decodes", f)
    st, _, b = cli(gw, "GET", "/system/function/echo-a?namespace=openfaas-fn")
    check(st == 200 and json.loads(b)["name"] == "echo-a", "GET /system/function/NAME?namespace= 200", (st, b))
    st, _, b = cli(gw, "GET", "/system/namespaces")
    check(st == 200 and "openfaas-fn" in json.loads(b), "GET /system/namespaces: a list of names", b)

    # ---- scale: faas-cli accepts 200/201/202; a per-request function has no replicas ---------
    st, _, b = cli(gw, "POST", "/system/scale-function/echo-a", {"serviceName": "echo-a", "replicas": 3})
    check(st not in SCALE_OK and st == 409 and b"cannot be scaled" in b and b"com.funk.mode=warm" in b,
          "faas-cli scale of a per-request function: refused with the reason (409), not 'Scaled'", (st, b))
    check(gw.status("echo-a")["replicas"] == 1, "the refused scale changed nothing", gw.status("echo-a"))
    st, _, b = cli(gw, "POST", "/system/scale-function/nosuch", {"serviceName": "nosuch", "replicas": 1})
    check(st == 404, "faas-cli scale of a missing function: 404 ('function not found')", (st, b))
    st, b = faas_deploy(gw, deployment("echo-w", ELF["echo"], labels={"com.funk.mode": "warm"}))
    check(st in DEPLOY_OK, "deploy of a warm function", (st, b))
    st, _, b = cli(gw, "POST", "/system/scale-function/echo-w", {"serviceName": "echo-w", "replicas": 1})
    check(st in SCALE_OK, "faas-cli scale of a warm function: accepted status", (st, b))
    check(wait_for(lambda: gw.status("echo-w")["availableReplicas"] == 1, 20), "the warm function scaled to 1",
          gw.status("echo-w"))
    st, _, b = cli(gw, "POST", "/system/scale-function/echo-w",
                   {"serviceName": "echo-w", "replicas": 0, "namespace": "openfaas-fn"})
    check(st in SCALE_OK, "faas-cli scale to 0 with the namespace in the body: accepted status", (st, b))

    # ---- delete (faas-cli remove, and deploy --replace) --------------------------------------
    st, _, b = cli(gw, "DELETE", "/system/functions", {"functionName": "echo-w"})
    check(st in DELETE_FN_OK, "faas-cli remove: accepted status", (st, b))
    st, _, b = cli(gw, "DELETE", "/system/functions", {"functionName": "echo-w"})
    check(st == 404, "faas-cli remove of a missing function: 404 ('No existing function to remove')", (st, b))

    # ---- secrets (types.Secret: name, namespace/value/rawValue omitempty) ---------------------
    st, _, b = cli(gw, "POST", "/system/secrets", {"name": "api-key", "value": "s3cret"})
    check(st in SECRET_CREATE_OK, "faas-cli secret create: accepted status", (st, b))
    st, _, b = cli(gw, "POST", "/system/secrets", {"name": "api-key", "value": "s3cret"})
    check(st == 409, "faas-cli secret create twice: 409 ('already exists')", (st, b))
    st, _, b = cli(gw, "POST", "/system/secrets",
                   {"name": "db.password", "rawValue": base64.b64encode(b"\x00\x01raw").decode()})
    check(st in SECRET_CREATE_OK, "faas-cli secret create --from-file (rawValue), dotted name", (st, b))
    st, _, b = cli(gw, "PUT", "/system/secrets", {"name": "api-key", "value": "rotated"})
    check(st in SECRET_UPDATE_OK, "faas-cli secret update: accepted status", (st, b))
    st, _, b = cli(gw, "GET", "/system/secrets")
    check(st == 200 and sorted(x["name"] for x in json.loads(b)) == ["api-key", "db.password"],
          "faas-cli secret list", b)
    st, _, b = cli(gw, "DELETE", "/system/secrets", {"name": "db.password"})
    check(st in SECRET_REMOVE_OK, "faas-cli secret remove: a status faas-cli accepts (200 or 202)", (st, b))
    st, _, b = cli(gw, "DELETE", "/system/secrets", {"name": "db.password"})
    check(st == 404, "faas-cli secret remove of a missing secret: 404 ('unable to find secret')", (st, b))

    # ---- names: DNS-1123 labels for functions and namespaces, subdomains for secrets --------
    for bad in ["Bad_Name", "UPPER", "Echo", "a.b", "-lead", "trail-", "under_score", "x" * 64, "sp ace"]:
        for method in ("POST", "PUT"):
            st, _, b = cli(gw, method, "/system/functions", deployment(bad, ELF["echo"]))
            check(st == 400 and b"DNS-1123" in b, "%s of function name %r refused: 400 naming the rule" % (method, bad),
                  (st, b[:200]))
    st, b = faas_deploy(gw, deployment("x" * 63, ELF["echo"]))
    check(st in DEPLOY_OK, "a 63-character name is accepted", (st, b))
    st, _, b = cli(gw, "POST", "/system/functions", deployment("okname", ELF["echo"], namespace="Bad_NS"))
    check(st == 400 and b"namespace" in b and b"DNS-1123" in b, "a namespace that is no DNS-1123 label: 400", (st, b))
    names = [x["name"] for x in json.loads(cli(gw, "GET", "/system/functions")[2])]
    check(not any(n != n.lower() or "_" in n or "." in n for n in names), "no refused name was deployed", names)
    for bad in ["Bad_Secret", "UPPER", "a..b", ".lead", "trail.", "-x", "x_y", "x" * 200]:
        st, _, b = cli(gw, "POST", "/system/secrets", {"name": bad, "value": "v"})
        check(st == 400 and b"DNS-1123" in b, "secret name %r refused: 400 naming the rule" % bad[:20], (st, b[:200]))

    # ---- logs: faas-cli sends since= in its local time (Go's RFC 3339, numeric offset) ------
    cli(gw, "POST", "/function/echo-a", {"x": 1})
    past = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=1))) - datetime.timedelta(minutes=5)
    since = past.replace(microsecond=0).isoformat().replace("+", "%2B")
    st, _, b = cli(gw, "GET", "/system/logs?name=echo-a&follow=false&since=" + since)
    check(st == 200, "faas-cli logs --since: an RFC 3339 time with a +01:00 offset 200", (st, b[:200]))
    future = (datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=-5))) + datetime.timedelta(hours=1))
    st, _, b = cli(gw, "GET", "/system/logs?name=echo-a&follow=false&since="
                   + future.replace(microsecond=0).isoformat())
    check(st == 200 and b.strip() == b"", "since with a -05:00 offset an hour ahead: no lines", (st, b[:200]))
    st, _, b = cli(gw, "GET", "/system/logs?name=echo-a&since=2026-01-02T03:04:05%2B25:00")
    check(st == 400, "since with an impossible offset: 400", (st, b[:200]))

    # ---- no guest runs before a request --------------------------------------------------
    # hello is console-style (prints one line, exits without asking for a request); it used to be
    # pre-booted twice at deploy and at every start, its line logged each time
    st, b = faas_deploy(gw, deployment("hello", ELF["hello"]))
    check(st in DEPLOY_OK, "deploy hello", (st, b))
    s = gw.status("hello")
    check(s.get("instances") == 0, "after deploy no guest of a per-request function is alive", s)
    st, _, b = cli(gw, "POST", "/function/hello", b"")
    check(st == 200 and b"Hello from a funk unikernel" in b, "the first call runs it", (st, b))
    check(wait_for(lambda: quiet(gw, "hello"), 20), "after the call: no pre-booting, no guest alive", gw.status("hello"))
    check(hello_runs(gw, "hello") == 1, "deploy + one call: exactly one run logged", gw.logs("hello"))
    for i in (2, 3):
        cli(gw, "POST", "/function/hello", b"")
        check(wait_for(lambda: quiet(gw, "hello"), 20) and hello_runs(gw, "hello") == i,
              "call %d: exactly %d runs" % (i, i), gw.logs("hello"))
    # a function that does ask for requests is booted ahead only once a call has shown it does
    st, b = faas_deploy(gw, deployment("fresh", ELF["gwtest"]))
    s = gw.status("fresh")
    check(s.get("instances") == 0 and s.get("preboot", 0) >= 1,
          "after deploy of a request-serving function: nothing booted yet", s)
    st, _, b = cli(gw, "GET", "/function/fresh/count")
    check(st == 200 and b == b"1", "its first call boots a fresh guest", (st, b))
    check(wait_for(lambda: gw.status("fresh").get("instances", 0) >= 1, 20),
          "after a call that asked for its request, guests are booted ahead", gw.status("fresh"))
    counts = [cli(gw, "GET", "/function/fresh/count")[2] for _ in range(3)]
    check(counts == [b"1"] * 3, "pre-booted calls: a fresh guest each", counts)

    # restart on the same state: nothing runs at start either
    gw.stop()
    gw.start()
    s = gw.status("hello")
    check(s is not None and s.get("instances") == 0, "after a restart no guest of hello is alive", s)
    s = gw.status("fresh")
    check(s is not None and s.get("instances") == 0, "after a restart no guest of fresh is alive", s)
    st, _, b = cli(gw, "POST", "/function/hello", b"")
    check(st == 200 and wait_for(lambda: quiet(gw, "hello"), 20) and hello_runs(gw, "hello") == 1,
          "after a restart: one call, exactly one run", gw.logs("hello"))

# ---- funkd behind the OpenFaaS gateway: --role provider, called the way the gateway calls ----
a = Funkd("--role", "provider", "--auth")
os.makedirs(os.path.join(a.state, "secrets"), exist_ok=True)
for fname, val in (("basic-auth-user", "admin"), ("basic-auth-password", "pw")):
    with open(os.path.join(a.state, "secrets", fname), "w") as fh:
        fh.write(val)
a.auth = "admin:pw"
# the gateway's forwarding proxy: the client's headers, X-Forwarded-Host/-For, and its own
# service credentials (BasicAuthInjector) in Authorization
GW_HEADERS = {"X-Forwarded-Host": "127.0.0.1:8080", "X-Forwarded-For": "127.0.0.1:53412",
              "User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}
with a:
    st, _, b = a.req("GET", "/system/info", None, GW_HEADERS)
    info = json.loads(b) if st == 200 else {}
    check(st == 200 and isinstance(info.get("provider"), str) and info["provider"] == "funkd"
          and isinstance(info.get("orchestration"), str) and isinstance(info.get("version"), dict)
          and isinstance(info["version"].get("sha"), str) and isinstance(info["version"].get("release"), str)
          and "arch" not in info,
          "--role provider: GET /system/info is faas-provider's ProviderInfo (provider is a string)", b)
    st, _, _ = a.req("GET", "/system/info", None, GW_HEADERS, auth=False)
    check(st == 401, "--role provider with --auth: /system/info without the gateway's credentials 401", st)
    st, _, _ = a.req("GET", "/healthz", None, GW_HEADERS, auth=False)
    check(st == 200, "the gateway's /healthz probe 200 without credentials", st)
    h = dict(GW_HEADERS, **{"Content-Type": "application/json"})
    spec = json.dumps(deployment("gwfn", ELF["echo"], labels={"com.funk.mode": "warm"}), separators=(",", ":"))
    st, _, b = a.req("POST", "/system/functions", spec, h)
    check(st in DEPLOY_OK, "deploy forwarded by the gateway", (st, b))
    # the gateway's scaler (plugin/external.go): GetReplicas and SetReplicas
    st, _, b = a.req("GET", "/system/function/gwfn?namespace=openfaas-fn&usage=false", None, GW_HEADERS)
    check(st == 200 and json.loads(b)["name"] == "gwfn", "GetReplicas: GET /system/function/NAME?namespace=&usage= 200",
          (st, b))
    st, _, b = a.req("POST", "/system/scale-function/gwfn?namespace=openfaas-fn",
                     json.dumps({"serviceName": "gwfn", "replicas": 1}), h)
    check(st in (200, 202), "SetReplicas: POST /system/scale-function/NAME?namespace= 200 or 202", (st, b))
    st, _, b = a.req("GET", "/system/functions", None, GW_HEADERS)
    check(st == 200 and [x["name"] for x in json.loads(b)] == ["gwfn"], "ListFunctions through the gateway", b)
    st, _, b = a.req("GET", "/system/logs?name=gwfn&namespace=openfaas-fn&follow=false&tail=10", None, GW_HEADERS)
    check(st == 200, "the gateway's log proxy: GET /system/logs 200", (st, b))
    st, _, b = a.req("POST", "/function/gwfn.openfaas-fn", b"via gateway", GW_HEADERS)
    check(st == 200 and b == b"via gateway", "an invocation forwarded as NAME.NAMESPACE", (st, b))
done()
