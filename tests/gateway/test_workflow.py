# SPDX-License-Identifier: Apache-2.0
# The faas-cli workflow in funk, as a user outside the source tree runs it: funk new (C and static
# templates), funk build (the installed funk-cc and templates), funk up --skip-push against a real
# funkd (the C unikernel and the static program as a stdio function),
# invoke over HTTP; strict stack.yml errors with line:column; default ./stack.yml; gateway
# precedence (--gateway > OPENFAAS_URL > provider.gateway); ${VAR} substitution; funk login (0600 file, used by every
# command) against a funkd with auth; funk daemon -d waiting on its own --listen address with a
# log per address in the state dir.
import base64
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ADDR_IN_USE, FUNK_CLI, FUNKD, START_TRIES, Funkd, check, dead_port, done, free_port, need_kvm, wait_for  # noqa: E402

need_kvm()
if not FUNK_CLI or not os.path.exists(FUNK_CLI):
    print("FAIL: FUNK_CLI is not set to the funk binary")
    sys.exit(1)

work = tempfile.TemporaryDirectory(prefix="funk-workflow-")  # outside the source tree
W = work.name
CONFIG = os.path.join(W, "config")


def funk(*args, cwd=None, stdin=b"", env=None, timeout=180):
    e = {k: v for k, v in os.environ.items()
         if k not in ("FUNK_GATEWAY", "OPENFAAS_URL", "FUNK_USER", "FUNK_PASSWORD", "FUNK_LOG")}
    e["XDG_CONFIG_HOME"] = CONFIG  # never the user's own login file
    if env:
        e.update(env)
    r = subprocess.run([FUNK_CLI] + list(args), input=stdin, capture_output=True, env=e, cwd=cwd,
                       timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def http_post(port, path, body):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request("POST", path, body=body)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


for cmd in ("new", "template", "build", "push", "up", "login", "logout"):
    rc, out, err = funk(cmd, "--help")
    check(rc == 0 and out.startswith("usage: funk " + cmd), "funk %s --help: usage on stdout, exit 0" % cmd, (rc, out, err))
rc, out, err = funk("--help")
check(rc == 0 and all(("  %s " % c) in out for c in ("new", "build", "push", "up", "login", "daemon")),
      "funk --help lists the workflow commands", out)

# ---- funk new, template list, build (outside the tree, installed SDK and templates) ----
proj = os.path.join(W, "proj")
os.makedirs(proj)
rc, out, err = funk("template", "list", cwd=proj)
check(rc == 0 and re.search(r"^c\s", out, re.M) and re.search(r"^static\s", out, re.M),
      "funk template list shows the installed c and static templates", (rc, out, err))
rc, out, err = funk("new", "hello", "--lang", "c", cwd=proj)
check(rc == 0 and os.path.isfile(os.path.join(proj, "hello", "handler.c")), "funk new hello --lang c writes ./hello",
      (rc, out, err))
stack = os.path.join(proj, "stack.yml")
text = open(stack).read() if os.path.exists(stack) else ""
check(re.search(r"^  hello:\n    lang: c\n    handler: \./hello\n    image: hello:latest\n", text, re.M) is not None,
      "funk new writes stack.yml with lang, handler and image", text)
rc, out, err = funk("new", "hello", "--lang", "c", cwd=proj)
check(rc == 64 and "stack.yml already has a function hello" in err, "funk new refuses a function the stack has", (rc, err))
os.makedirs(os.path.join(proj, "third"))
rc, out, err = funk("new", "third", "--lang", "c", cwd=proj)
check(rc == 64 and "./third already exists" in err and "third" not in open(stack).read(),
      "funk new refuses an existing folder and leaves stack.yml alone", (rc, err))
os.rmdir(os.path.join(proj, "third"))
rc, out, err = funk("new", "Bad_Name", "--lang", "c", cwd=proj)
check(rc == 64 and "DNS-1123" in err, "funk new refuses a name that is not DNS-1123", (rc, err))
rc, out, err = funk("new", "x", "--lang", "cobol", cwd=proj)
check(rc != 0 and "no template 'cobol'" in err, "funk new with an unknown template", (rc, err))

# an image-only function beside it: skipped by build, as faas-cli does; its image is a path
with open(stack, "a") as f:
    f.write("  plain:\n    image: %s\n" % os.environ.get("ECHO_ELF", "echo.elf"))
rc, out, err = funk("build", cwd=proj)  # no -f: ./stack.yml
layout = os.path.join(proj, "build", "hello")
check(rc == 0 and os.path.isfile(os.path.join(layout, "index.json")) and
      os.path.isfile(os.path.join(layout, "oci-layout")), "funk build (default ./stack.yml) writes build/hello as an OCI layout",
      (rc, out, err))
check("Skipping build of: plain" in out, "funk build skips a function with only an image", out)
try:
    idx = json.load(open(os.path.join(layout, "index.json")))
    ref = idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
except (OSError, ValueError, KeyError, IndexError) as e:
    ref = repr(e)
check(ref == "hello:latest", "the image is tagged with the stack's image", ref)
elf = os.path.join(proj, "build", "hello.elf")
check(os.path.isfile(elf) and open(elf, "rb").read(4) == b"\x7fELF", "the handler became a unikernel ELF")

# funk new appends to an existing stack file, keeping its comments and later sections
with open(stack, "a") as f:
    f.write("# templates from this folder\nconfiguration:\n  templates:\n    - name: c\n      source: ./tmpl\n")
rc, out, err = funk("new", "second", "--lang", "c", cwd=proj)
text = open(stack).read()
check(rc == 0 and "# templates from this folder" in text and
      text.index("  second:\n    lang: c") < text.index("configuration:"),
      "funk new adds the function inside functions:, before the later sections", (rc, err, text))
flow = os.path.join(W, "flow")
os.makedirs(flow)
open(os.path.join(flow, "stack.yml"), "w").write("provider: {name: openfaas}\nfunctions: {a: {image: x}}\n")
rc, out, err = funk("new", "b", "--lang", "c", cwd=flow)
check(rc == 64 and "stack.yml:2:12: functions is not a block mapping" in err and not os.path.exists(os.path.join(flow, "b")),
      "funk new refuses a flow-style functions mapping before writing anything", (rc, err))
open(os.path.join(flow, "stack.yml"), "w").write("provider:\n  name: openfaas\nfunctions:\n\nconfiguration:\n  copy: []\n")
rc, out, err = funk("new", "b", "--lang", "c", cwd=flow)
text = open(os.path.join(flow, "stack.yml")).read()
check(rc == 0 and text.startswith("provider:\n  name: openfaas\nfunctions:\n  b:\n    lang: c\n"),
      "funk new fills an empty functions: in place", (rc, err, text))
rc, out, err = funk("build", "--filter", "sec*", cwd=proj)
check(rc == 0 and "Building second" in out and "Building hello" not in out, "funk build --filter GLOB", (rc, out, err))
# the C template builds with funk-cc (the SDK's compiler driver), not with pkg-config: a
# pkg-config that fails everything changes nothing
fake = os.path.join(W, "fakebin")
os.makedirs(fake)
with open(os.path.join(fake, "pkg-config"), "w") as f:
    f.write("#!/bin/sh\necho 'fake pkg-config: refused' >&2\nexit 1\n")
os.chmod(os.path.join(fake, "pkg-config"), 0o755)
rc, out, err = funk("build", "--filter", "hello", cwd=proj, env={"PATH": fake + ":" + os.environ.get("PATH", "/usr/bin:/bin")})
check(rc == 0 and "Building hello" in out and "fake pkg-config" not in err,
      "funk build of the C template uses funk-cc (a broken pkg-config does not matter)", (rc, out, err))
rc, out, err = funk("build", "--regex", "^hel", "--filter", "x", cwd=proj)
check(rc == 64 and "not both" in err, "--filter and --regex together are refused", (rc, err))

# the static template (stdio mode): builds a static program here; answers over HTTP below
sdir = os.path.join(W, "static")
os.makedirs(sdir)
rc, out, err = funk("new", "st", "--lang", "static", cwd=sdir)
text = open(os.path.join(sdir, "stack.yml")).read() if rc == 0 else ""
check(rc == 0 and "    labels:\n      com.funk.io: stdio\n" in text, "funk new --lang static labels the function stdio",
      (rc, err, text))
check("\n    fprocess: st\n" in text, "funk new --lang static writes fprocess with the function's name", text)
# a second one with build_args CC: cc, the template's way without musl-tools (glibc -static)
rc, out, err = funk("new", "stg", "--lang", "static", cwd=sdir)
with open(os.path.join(sdir, "stack.yml"), "a") as f:
    f.write("    build_args:\n      CC: cc\n")
rc, out, err = funk("build", cwd=sdir)
selfelf = os.path.join(sdir, "build", "st.elf")
check(rc == 0 and os.path.isfile(os.path.join(sdir, "build", "st", "index.json")) and
      subprocess.run([selfelf], input=b"abc", capture_output=True).stdout.startswith(b"Hello from a static binary! Your request had 3 bytes"),
      "the static template builds a static program (stdin -> stdout) into an image", (rc, out, err))
glibc_elf = os.path.join(sdir, "build", "stg.elf")
check(os.path.isfile(glibc_elf) and b"GLIBC" in open(glibc_elf, "rb").read(),
      "build_args CC: cc builds the static template with glibc (cc -static)", (out, err))
if shutil.which("musl-gcc"):
    check(b"GLIBC" not in open(selfelf, "rb").read(), "with musl-tools the static template links musl (musl-gcc -static)")
else:
    print("note: no musl-gcc here (Debian musl-tools): the static template used cc -static")

# the c-musl template (funk-cc --linux): a funk function on musl with floating point
mdir = os.path.join(W, "musl")
os.makedirs(mdir)
have_musl = shutil.which("musl-gcc") is not None
if have_musl:
    rc, out, err = funk("new", "mu", "--lang", "c-musl", cwd=mdir)
    check(rc == 0 and os.path.isfile(os.path.join(mdir, "mu", "handler.c")),
          "funk new mu --lang c-musl", (rc, err))
    rc, out, err = funk("build", cwd=mdir)
    check(rc == 0 and os.path.isfile(os.path.join(mdir, "build", "mu", "index.json")),
          "funk build of the c-musl template (funk-cc --linux) into an image", (rc, out, err))
else:
    print("note: no musl-gcc here (Debian musl-tools): the c-musl template is left out")

# a compile error in the handler: funk build fails and says which function
broken = os.path.join(W, "broken")
os.makedirs(broken)
rc, out, err = funk("new", "oops", "--lang", "c", cwd=broken)
os.makedirs(os.path.join(broken, "oops"), exist_ok=True)
with open(os.path.join(broken, "oops", "handler.c"), "a") as f:
    f.write("\nthis is not C;\n")
rc, out, err = funk("build", cwd=broken)
check(rc != 0 and "oops" in err and "build.sh failed" in err, "a handler that does not compile fails funk build",
      (rc, out, err))

# ---- templates: pull into ./template, a custom one from a local folder, a strict template.yml ----
tp = os.path.join(W, "tp")
os.makedirs(tp)
rc, out, err = funk("template", "pull", cwd=tp)
check(rc == 0 and os.path.isfile(os.path.join(tp, "template", "c", "template.yml")) and
      os.path.isfile(os.path.join(tp, "template", "c", "function", "handler.c")),
      "funk template pull copies the installed templates into ./template", (rc, out, err))
rc, out, err = funk("template", "list", cwd=tp)
check(rc == 0 and re.search(r"^c\s.*\./template$", out, re.M), "funk template list shows ./template", out)
mine = os.path.join(W, "mytemplates", "templates", "shout")
os.makedirs(os.path.join(mine, "function"))
open(os.path.join(mine, "template.yml"), "w").write("language: C, shouting\nimage_mode: fn\n")
open(os.path.join(mine, "build.sh"), "w").write(open(os.path.join(tp, "template", "c", "build.sh")).read())
handler = open(os.path.join(tp, "template", "c", "function", "handler.c")).read()
open(os.path.join(mine, "function", "handler.c"), "w").write(handler.replace("Hello from funk!", "HELLO FROM FUNK!"))
rc, out, err = funk("template", "pull", os.path.join(W, "mytemplates"), cwd=tp)
check(rc == 0 and "Fetched template shout" in out, "funk template pull DIR takes DIR/templates", (rc, out, err))
rc, out, err = funk("template", "pull", cwd=tp)
check(rc == 0 and "Skipping c: ./template/c exists" in out, "funk template pull keeps templates already there", (rc, out))
rc, out, err = funk("new", "loud", "--lang", "shout", cwd=tp)
check(rc == 0 and "HELLO FROM FUNK!" in open(os.path.join(tp, "loud", "handler.c")).read(),
      "funk new with a pulled custom template", (rc, out, err))
open(os.path.join(mine, "template.yml"), "w").write("language: x\nwelcome_mesage: hi\n")
rc, out, err = funk("new", "other", "--lang", "shout", "-f", os.path.join(W, "other.yml"),
                    env={"FUNK_TEMPLATES": os.path.join(W, "mytemplates", "templates")}, cwd=W)
check(rc != 0 and "template.yml:2:1: unknown key 'welcome_mesage'" in err,
      "a template.yml with an unknown key is an error with its line", (rc, err))

# ---- strict stack.yml ----
bad = os.path.join(W, "bad.yml")
with open(bad, "w") as f:
    f.write("""version: 1.0
provider:
  name: openfaas
functions:
  fn:
    image: x.elf
    environmnet:
      A: "1"
    lables:
      team: a
    secrets: token
    skip_build: perhaps
""")
rc, out, err = funk("--gateway", "http://127.0.0.1:1", "deploy", "-f", bad)
check(rc == 64 and "bad.yml:7:5: unknown key 'environmnet' in functions.fn (did you mean 'environment'?)" in err,
      "unknown key environmnet: an error with file:line:column", err)
check("bad.yml:9:5: unknown key 'lables'" in err, "unknown key lables: an error with its line", err)
check("bad.yml:11:14: functions.fn.secrets must be a list" in err, "secrets as a scalar: a type error with its line", err)
check("bad.yml:12:17: functions.fn.skip_build must be true or false" in err, "a bad boolean: a type error", err)
check("cannot reach" not in err, "nothing is sent when the stack file is wrong", err)
with open(bad, "w") as f:
    f.write("functions:\n  fn:\n    image: a\n    image: b\n")
rc, out, err = funk("--gateway", "http://127.0.0.1:1", "deploy", "-f", bad)
check(rc == 64 and "bad.yml:4:5: duplicate key 'image'" in err, "a duplicate key is an error", err)
with open(bad, "w") as f:
    f.write("provider:\n  name: faas-netes\nfunctions:\n  fn:\n    image: a\n")
rc, out, err = funk("--gateway", "http://127.0.0.1:1", "deploy", "-f", bad)
check(rc == 64 and "provider.name must be 'openfaas'" in err, "provider.name other than openfaas is refused", err)
empty = os.path.join(W, "empty")
os.makedirs(empty)
rc, out, err = funk("deploy", cwd=empty)
check(rc == 64 and "no stack file" in err, "deploy with no -f and no ./stack.yml says so", (rc, err))

# ---- against a real funkd: up --skip-push, invoke; gateway precedence; default stack file ----
dead_sock, dport = dead_port()
dead = "http://127.0.0.1:%d" % dport
with Funkd() as gw:
    live = gw.url()
    text = open(stack).read().replace("http://127.0.0.1:8080", live)
    open(stack, "w").write(text if "gateway:" in text else "provider:\n  name: openfaas\n  gateway: %s\n" % live + text)
    rc, out, err = funk("up", "--skip-push", "--filter", "hello", cwd=proj)
    check(rc == 0 and "Deployed hello" in out, "funk up --skip-push: build + deploy to provider.gateway", (rc, out, err))
    st, body = http_post(gw.port, "/function/hello", b"world")
    check(st == 200 and body == "Hello from funk! You said: world", "the C template's function answers over HTTP",
          (st, body))
    # a function built by hand with the installed funk-cc in a temp folder, deployed by path
    fcc = os.environ.get("FUNK_CC_INSTALLED", "")
    check(os.access(fcc, os.X_OK), "the installed funk-cc exists (meson install)", fcc)
    outside = os.path.join(W, "outside")
    os.makedirs(outside)
    wsrc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "install", "outside", "wordcount.c")
    shutil.copy(wsrc, outside)
    r = subprocess.run([fcc, "-O2", "-Wall", "-o", "wc.elf", "wordcount.c"], cwd=outside, capture_output=True, timeout=120)
    check(r.returncode == 0, "funk-cc -o wc.elf wordcount.c in a temp folder", r.stderr.decode(errors="replace"))
    rc, out, err = funk("--gateway", live, "deploy", "--name", "wcount", "--image", os.path.join(outside, "wc.elf"))
    st, body = http_post(gw.port, "/function/wcount", b"the funk-cc way")
    check(rc == 0 and st == 200 and body == "words=3\n", "the funk-cc-built function deploys and answers over HTTP",
          (rc, err, st, body))
    # the static template's program, deployed as a stdio function (com.funk.io=stdio)
    stext = open(os.path.join(sdir, "stack.yml")).read().replace("http://127.0.0.1:8080", live)
    open(os.path.join(sdir, "stack.yml"), "w").write(stext)
    rc, out, err = funk("up", "--skip-push", cwd=sdir)
    d = gw.status("st") or {}
    check(rc == 0 and "Deployed st" in out and "Deployed stg" in out and d.get("envProcess") == "st",
          "funk up --skip-push deploys the static template's build with its fprocess", (rc, out, err, d))
    for fn in ("st", "stg"):
        st, body = http_post(gw.port, "/function/" + fn, b"four bytes!")
        check(st == 200 and body == "Hello from a static binary! Your request had 11 bytes.\n",
              "the static template's program (%s) answers over HTTP as a stdio function" % fn, (st, body))
    if have_musl:
        mtext = open(os.path.join(mdir, "stack.yml")).read().replace("http://127.0.0.1:8080", live)
        open(os.path.join(mdir, "stack.yml"), "w").write(mtext)
        rc, out, err = funk("up", "--skip-push", cwd=mdir)
        check(rc == 0 and "Deployed mu" in out, "funk up --skip-push deploys the c-musl function",
              (rc, out, err))
        st, body = http_post(gw.port, "/function/mu", b"sixteen bytes!!!")
        check(st == 200 and body == "Hello from funk on musl! 16 bytes, sqrt 4.000. You said: "
              "sixteen bytes!!!", "the c-musl function answers over HTTP (printf of a float)",
              (st, body))
    # OPENFAAS_URL beats provider.gateway (dead address: the deploy must go there and fail)
    rc, out, err = funk("deploy", "--filter", "hello", cwd=proj, env={"OPENFAAS_URL": dead})
    check(rc == 1 and ("cannot reach funkd at " + dead) in err, "OPENFAAS_URL beats provider.gateway", (rc, err))
    # --gateway beats OPENFAAS_URL
    rc, out, err = funk("--gateway", live, "deploy", "--filter", "plain", cwd=proj, env={"OPENFAAS_URL": dead})
    check(rc == 0 and "Deployed plain" in out, "--gateway beats OPENFAAS_URL", (rc, out, err))
    # stack.yaml is a default too
    yproj = os.path.join(W, "yproj")
    os.makedirs(yproj)
    with open(os.path.join(yproj, "stack.yaml"), "w") as f:
        f.write("provider:\n  name: openfaas\n  gateway: %s\nfunctions:\n  yfn:\n    image: %s\n"
                % (live, os.environ.get("ECHO_ELF", "echo.elf")))
    rc, out, err = funk("deploy", cwd=yproj)
    check(rc == 0 and "Deployed yfn" in out, "deploy with no -f reads ./stack.yaml", (rc, out, err))
    st, body = http_post(gw.port, "/function/yfn", b"ping")
    check(st == 200 and body == "ping", "the function from ./stack.yaml answers", (st, body))
    # ${VAR} and ${VAR:-default} in the stack file, as faas-cli substitutes them
    sproj = os.path.join(W, "sproj")
    os.makedirs(sproj)
    with open(os.path.join(sproj, "stack.yml"), "w") as f:
        f.write("provider:\n  name: openfaas\n  gateway: ${WF_GW}\nfunctions:\n  subst:\n    image: ${WF_IMG}\n"
                "    environment:\n      A: ${WF_A:-fallback}\n      B: \"${WF_B}-x $HOME ${unterminated\"\n")
    rc, out, err = funk("deploy", cwd=sproj, env={"WF_GW": live, "WF_IMG": os.environ.get("ECHO_ELF", "echo.elf"),
                                                  "WF_B": "bee", "HOME": "/h"})
    d = gw.status("subst") or {}
    check(rc == 0 and d.get("envVars") == {"A": "fallback", "B": "bee-x $HOME ${unterminated"},
          "${VAR} and ${VAR:-default} are substituted in stack values", (rc, err, d))
    # push: hands build/NAME to `funk image push`; without that subcommand it fails clearly
    rc, out, err = funk("image", "--help")
    if " push" in out:
        print("note: this funk has `funk image push`: its registry round trip is tested by the image tests")
    else:
        rc, out, err = funk("push", "--filter", "hello", cwd=proj)
        check(rc == 1 and "funk image push" in err, "funk push without `funk image push`: a clear failure", (rc, err))
        rc, out, err = funk("up", "--filter", "hello", cwd=proj)
        check(rc == 1 and "funk image push" in err and "Deployed" not in out,
              "funk up (with push) stops before deploying when the push fails", (rc, out, err))

# ---- funk login against a funkd with auth ----
a = Funkd("--auth")
sec = os.path.join(a.tmp.name, "sec")
os.makedirs(sec)
open(os.path.join(sec, "basic-auth-user"), "w").write("admin")
open(os.path.join(sec, "basic-auth-password"), "w").write("s3cret")
a.args += ["--secrets-dir", sec]
a.auth = "admin:s3cret"
authfile = os.path.join(CONFIG, "funk", "auth.json")
with a:
    url = a.url()
    rc, out, err = funk("--gateway", url, "ls")
    check(rc == 1 and "unauthorized" in err, "ls without credentials: unauthorized", (rc, err))
    rc, out, err = funk("login", "-g", url, "-u", "admin", "--password-stdin", stdin=b"wrong\n")
    check(rc == 1 and not os.path.exists(authfile), "login with a wrong password fails and stores nothing", (rc, err))
    rc, out, err = funk("login", "-g", url + "/", "-u", "admin", "--password-stdin", stdin=b"s3cret\n")
    check(rc == 0, "funk login --password-stdin", (rc, out, err))
    mode = os.stat(authfile).st_mode if os.path.exists(authfile) else 0
    dmode = os.stat(os.path.dirname(authfile)).st_mode if os.path.exists(authfile) else 0
    check(stat.S_IMODE(mode) == 0o600 and stat.S_IMODE(dmode) == 0o700, "the login file is 0600 in a 0700 folder",
          (oct(mode), oct(dmode)))
    try:
        stored = json.load(open(authfile))["auths"][url]["auth"]
    except (OSError, ValueError, KeyError) as e:
        stored = repr(e)
    check(stored == base64.b64encode(b"admin:s3cret").decode(), "auth.json: auths[gateway URL].auth = base64(user:password)",
          stored)
    rc, out, err = funk("--gateway", url, "ls")
    check(rc == 0 and "Function" in out, "ls uses the stored login", (rc, err))
    rc, out, err = funk("--gateway", url, "logs", "nosuch")
    check(rc == 1 and "404" in err, "logs uses the stored login (404, not 401)", (rc, err))
    lstack = os.path.join(proj, "auth.yml")
    open(lstack, "w").write("provider:\n  name: openfaas\n  gateway: %s\nfunctions:\n  hello:\n    lang: c\n"
                            "    handler: ./hello\n    image: hello:latest\n" % url)
    rc, out, err = funk("up", "-f", lstack, "--skip-push", cwd=proj)
    check(rc == 0 and "Deployed hello" in out, "funk up deploys with the stored login of provider.gateway", (rc, out, err))
    st, _, body = a.req("POST", "/function/hello", b"auth")
    check(st == 200 and body == b"Hello from funk! You said: auth", "the function deployed with login answers", (st, body))
    rc, out, err = funk("login", "-g", "http://127.0.0.1:%d" % dport, "-p", "x")
    check(rc == 1 and "cannot reach" in err, "login to an unreachable gateway fails", (rc, err))
    rc, out, err = funk("logout", "-g", url)
    check(rc == 0, "funk logout", (rc, err))
    rc, out, err = funk("--gateway", url, "ls")
    check(rc == 1 and "unauthorized" in err, "after logout: unauthorized again", (rc, err))

# ---- funk daemon -d: waits on its own --listen, one log per listen address in the state dir ----
state = os.path.join(W, "daemon-state")
pids = []
logs = []
try:
    for k in range(2):
        for attempt in range(1, START_TRIES + 1):
            port = free_port()
            rc, out, err = funk("daemon", "-d", "--listen", "127.0.0.1:%d" % port, "--state-dir", state + str(k),
                                env={"FUNKD": FUNKD}, timeout=60)
            log = os.path.join(state + str(k), "funkd-127.0.0.1-%d.log" % port)
            if rc == 0 or attempt == START_TRIES or not os.path.exists(log) or not ADDR_IN_USE.search(open(log).read()):
                break
            print("note: port %d was taken before funkd bound it; retrying" % port, flush=True)
        m = re.search(r"pid (\d+)", out)
        if m:
            pids.append(int(m.group(1)))
        check(rc == 0 and ("is up at http://127.0.0.1:%d " % port) in out,
              "funk daemon -d --listen 127.0.0.1:PORT waits for that address, not the default gateway", (rc, out, err))
        check(os.path.isfile(log) and ("log " + log) in out, "funkd's log is STATE/funkd-HOST-PORT.log", (out, log))
        logs.append(log)
    check(len(set(logs)) == 2, "two funkd started by funk daemon -d have two logs", logs)
finally:
    for pid in pids:  # not our children (detached): wait until they are gone, bounded
        os.kill(pid, signal.SIGTERM)

        def gone(pid=pid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True
        check(wait_for(gone, 20), "funkd started by funk daemon -d stops on SIGTERM")
dead_sock.close()
done()
