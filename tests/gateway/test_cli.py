# SPDX-License-Identifier: Apache-2.0
# funk CLI end to end against the real funkd: daemon, deploy (flags, stack.yml), ls, invoke, logs,
# scale, secrets, rm, auth, and clear errors when funkd is down or the input is bad.
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ADDR_IN_USE, ELF, FUNK_CLI, FUNKD, START_TRIES, Funkd, check, dead_port, done, free_port, need_kvm, wait_for  # noqa: E402

need_kvm()


def funk(*args, gateway=None, stdin=b"", env=None):
    e = dict(os.environ)
    e.pop("FUNK_USER", None)
    e.pop("FUNK_PASSWORD", None)
    e.pop("FUNK_GATEWAY", None)
    e.pop("OPENFAAS_URL", None)
    if gateway:
        e["FUNK_GATEWAY"] = gateway
    if env:
        e.update(env)
    r = subprocess.run([FUNK_CLI] + list(args), input=stdin, capture_output=True, env=e, timeout=60)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


rc, out, _ = funk("--help")
check(rc == 0 and "deploy" in out and "invoke" in out, "funk --help")
rc, _, err = funk("frobnicate")
check(rc == 64 and "unknown command" in err, "unknown command exits 64", err)
down_sock, down_port = dead_port()  # bound, never listening: refused for as long as the test holds it
down = "http://127.0.0.1:%d" % down_port
rc, _, err = funk("ls", gateway=down)
check(rc == 1 and "cannot reach funkd" in err and "funk daemon -d" in err, "clear error when funkd is down", err)
for args, what in [(["deploy", "--name", "x"], "deploy without --image"), (["scale", "x"], "scale without --replicas"),
                   (["secret", "frob", "x"], "unknown secret subcommand"), (["invoke"], "invoke without a name"),
                   (["rm"], "rm without a name"), (["logs"], "logs without a name"),
                   (["deploy", "--env", "novalue", "--name", "x", "--image", "y"], "deploy --env without '='")]:
    rc, out, err = funk(*args, gateway=down)
    check(rc == 64 and err.strip() != "", "usage error: " + what, (rc, err))
# the oci part is always built in: `funk image` without a subcommand is a usage error (exit 64, one
# line naming it and a hint on stderr), like every other CLI usage error; --help is exit 0 with the
# usage on stdout
rc, out, err = funk("image")
check(rc == 64 and "funk image: missing command" in err and "Try 'funk image --help'" in err and out == "",
      "funk image without a subcommand: exit 64, says so", (rc, out, err))
rc, out, err = funk("image", "--help")
check(rc == 0 and "usage: funk image build" in out, "funk image --help: exit 0 and usage on stdout", (rc, out, err))
rc, out, err = funk("image", "frob")
check(rc == 64 and "unknown command 'frob'" in err, "funk image with an unknown subcommand: exit 64", (rc, out, err))
# one command-line style (docs/cli.md): unknown options are errors that name them (`funk ls --bogus`
# was ignored, `funk rm --bogus` took it as a name), --help is handled in option order, the
# global options end at the command
for args in (["ls", "--bogus"], ["rm", "--bogus"], ["rm", "x", "--bogus"], ["deploy", "--bogus", "x", "--help"],
             ["secret", "create", "s", "--bogus"], ["logs", "x", "--bogus"], ["template", "pull", "--bogus"],
             ["logout", "--bogus"], ["new", "--bogus", "x", "--help"], ["--bogus", "ls"]):
    rc, out, err = funk(*args, gateway=down)
    check(rc == 64 and "unknown option '--bogus'" in err and "--help" in err and out == "",
          "funk %s: unknown option, exit 64" % " ".join(args), (rc, out, err))
for args in (["rm", "a", "b"], ["ls", "x"], ["describe", "a", "b"], ["version", "x"], ["secret", "ls", "x"]):
    rc, out, err = funk(*args, gateway=down)
    check(rc == 64 and "unexpected argument" in err, "funk %s: a stray argument is a usage error" % " ".join(args),
          (rc, err))
rc, out, err = funk("describe", "--json=1", "x", gateway=down)
check(rc == 64 and "'--json=1' takes no value" in err, "funk describe --json=1: takes no value", (rc, err))
rc, out, err = funk("scale", "x", "--replicas", gateway=down)
check(rc == 64 and "'--replicas' needs a value" in err, "funk scale --replicas without a value", (rc, err))
for args in (["ls", "--help"], ["rm", "-h"], ["secret", "create", "--help"], ["--gateway", down, "logs", "--help"],
             ["invoke", "--method", "GET", "--help"]):
    rc, out, err = funk(*args, gateway=down)
    check(rc == 0 and out.startswith("usage: funk ") and err == "", "funk %s: usage, exit 0" % " ".join(args),
          (rc, out, err))
# funk daemon passes its options to funkd: funkd checks them, in order, before any --help
rc, out, err = funk("daemon", "--help", gateway=down)
check(rc == 0 and out.startswith("usage: funk daemon") and "usage: funkd" in out and "--state-dir" in out,
      "funk daemon --help: its usage, then funkd's options", (rc, out[:300], err))
rc, out, err = funk("daemon", "-d", "--bogus", "x", "--help", gateway=down)
check(rc == 64 and "unknown option '--bogus'" in err and "usage" not in out,
      "funk daemon -d --bogus x --help: funkd's usage error, exit 64", (rc, out, err))
with tempfile.TemporaryDirectory() as dtmp:
    rc, out, err = funk("daemon", "-d", "--state-dir", dtmp, "--pool", "many", gateway=down)
    check(rc == 64 and "usage error" in err, "funk daemon -d with a bad funkd value: exit 64", (rc, out, err))
rc, out, _ = funk("--version")
check(rc == 0 and out.startswith("funk ") and out == funk("version")[1], "funk --version = funk version", out)
rc, out, err = funk("--gateway=" + down, "ls")
check(rc == 1 and "cannot reach funkd at " + down in err, "funk --gateway=URL ls (getopt form)", (rc, err))

# funk daemon -d starts funkd and waits for it
# (on a free port; when another process takes it first funkd exits saying the address is in use,
# and the start is tried again on a fresh port)
tmp = tempfile.TemporaryDirectory()
for attempt in range(1, START_TRIES + 1):
    port = free_port()
    gwurl = "http://127.0.0.1:%d" % port
    uplog = os.path.join(tmp.name, "funkd-%d.log" % attempt)
    rc, out, err = funk("daemon", "-d", "--state-dir", os.path.join(tmp.name, "st"), gateway=gwurl,
                        env={"FUNKD": FUNKD, "FUNK_LOG": uplog})
    if rc == 0 or attempt == START_TRIES or not os.path.exists(uplog) or not ADDR_IN_USE.search(open(uplog).read()):
        break
    print("note: port %d was taken before funkd bound it; retrying" % port, flush=True)
check(rc == 0 and "is up" in out, "funk daemon -d", (rc, out, err))
import re  # noqa: E402
m = re.search(r"pid (\d+)", out)
pid = int(m.group(1)) if m else None
try:
    rc, out, err = funk("deploy", "--name", "echo", "--image", ELF["echo"], "--env", "A=1",
                        "--label", "team=a", gateway=gwurl)
    check(rc == 0 and "Deployed echo" in out, "deploy with flags", (out, err))
    rc, out, err = funk("deploy", "--name", "echo", "--image", ELF["echo"], "--env", "A=2", gateway=gwurl)
    check(rc == 0, "redeploy (PUT) with flags", err)
    rc, out, _ = funk("ls", gateway=gwurl)
    check(rc == 0 and "echo" in out and "per-request" in out, "ls lists it", out)
    rc, out, err = funk("invoke", "echo", "-H", "X-Echo-Format: json", "--path", "/x", "--query", "k=v",
                        gateway=gwurl, stdin=b"from stdin")
    j = json.loads(out) if rc == 0 else {}
    check(rc == 0 and j.get("body") == "from stdin" and j.get("path") == "/x" and j.get("query") == "k=v",
          "invoke: stdin to stdout with -H, --path, --query", (rc, out, err))
    rc, out, err = funk("invoke", "--async", "echo", gateway=gwurl, stdin=b"later")
    check(rc == 0 and "queued" in err, "invoke --async", (rc, err))
    rc, out, err = funk("invoke", "nosuch", gateway=gwurl)
    check(rc == 1 and "404" in err, "invoke of a missing function fails with the status", err)
    rc, out, err = funk("invoke", "echo", "-H", "broken", gateway=gwurl)
    check(rc == 64, "invoke rejects a bad -H", err)
    rc, out, err = funk("describe", "echo", "--json", gateway=gwurl)
    check(rc == 0 and json.loads(out)["envVars"] == {"A": "2"}, "describe --json", out)
    rc, out, err = funk("describe", "echo", gateway=gwurl)
    rows = dict((k.strip(), v.strip()) for k, v in (ln.split(":", 1) for ln in out.splitlines()
                                                   if ":" in ln and not ln.startswith(" ")))
    check(rc == 0 and rows.get("Name") == "echo" and rows.get("Status") == "Ready"
          and rows.get("Replicas") == "1" and rows.get("Available Replicas") == "1"
          and rows.get("Invocations", "").isdigit() and rows.get("Image") == ELF["echo"]
          and rows.get("Function Process") == "<default>"
          and rows.get("URL") == gwurl + "/function/echo" and rows.get("Async URL") == gwurl + "/async-function/echo"
          and "  A: 2" in out, "describe: a table like faas-cli describe, with the URLs", (rc, out, err))
    rc, out, err = funk("describe", "echo", "--namespace", "openfaas-fn", gateway=gwurl)
    check(rc == 0 and gwurl + "/function/echo.openfaas-fn" in out, "describe --namespace: NAME.NS URLs", out)
    rc, out, err = funk("describe", "nosuch", gateway=gwurl)
    check(rc == 1 and "404" in err, "describe of a missing function fails with the status", err)

    # the gateway from OPENFAAS_URL, as faas-cli; --gateway still wins over it
    rc, out, err = funk("describe", "echo", env={"OPENFAAS_URL": gwurl + "/"})
    check(rc == 0 and "URL:" in out and gwurl + "/function/echo" in out, "OPENFAAS_URL picks the gateway", (rc, out, err))
    rc, out, err = funk("--gateway", gwurl, "ls", env={"OPENFAAS_URL": down})
    check(rc == 0 and "echo" in out, "--gateway wins over OPENFAAS_URL", (rc, out, err))
    rc, out, err = funk("ls", env={"OPENFAAS_URL": down})
    check(rc == 1 and down in err, "OPENFAAS_URL is used when no flag is given", (rc, err))

    # ready: the gateway, then a function
    rc, out, err = funk("ready", gateway=gwurl)
    check(rc == 0 and "ready" in out, "ready: funkd answers /healthz", (rc, out, err))
    rc, out, err = funk("ready", "echo", "--timeout", "10", gateway=gwurl)
    check(rc == 0 and "echo is ready" in out, "ready NAME: the function has an available replica", (rc, out, err))
    t0 = time.time()
    rc, out, err = funk("ready", "nosuch", "--timeout", "0.5", gateway=gwurl)
    check(rc == 1 and "not deployed" in err and time.time() - t0 < 15, "ready of a missing function: exit 1 after --timeout",
          (rc, err))
    rc, out, err = funk("ready", "--timeout", "0.5", gateway=down)
    check(rc == 1 and "healthz" in err, "ready with funkd down: exit 1 after --timeout", (rc, err))
    rc, out, err = funk("ready", "--timeout", "soon", gateway=gwurl)
    check(rc == 64 and "--timeout" in err, "ready --timeout with a bad value exits 64", (rc, err))

    # scale of a per-request function: the truth, and a non-zero exit
    rc, out, err = funk("scale", "echo", "--replicas", "3", gateway=gwurl)
    check(rc == 1 and "Scaled" not in out and "409" in err and "cannot be scaled" in err,
          "scale of a per-request function fails with funkd's reason", (rc, out, err))

    # secrets
    rc, out, err = funk("secret", "create", "token", "--from-literal", "abc", gateway=gwurl)
    check(rc == 0, "secret create --from-literal", err)
    rc, out, err = funk("secret", "create", "token", gateway=gwurl, stdin=b"again")
    check(rc == 1 and "409" in err, "secret create twice fails (409)", err)
    rc, out, err = funk("secret", "update", "token", gateway=gwurl, stdin=b"xyz")
    check(rc == 0, "secret update from stdin", err)
    rc, out, _ = funk("secret", "ls", gateway=gwurl)
    check(rc == 0 and "token" in out and "xyz" not in out, "secret ls shows names only", out)

    # stack.yml
    stack = os.path.join(tmp.name, "stack.yml")
    with open(stack, "w") as f:
        f.write("""version: 1.0
provider:
  name: openfaas
  gateway: %s
functions:
  stacked:
    image: %s
    environment:
      GREETING: hello yaml
    secrets:
      - token
    labels:
      com.funk.mode: warm
    annotations:
      owner: me
    limits:
      memory: 16M
""" % (gwurl, ELF["gwtest"]))
    rc, out, err = funk("deploy", "-f", stack)
    check(rc == 0 and "Deployed stacked" in out, "deploy -f stack.yml (gateway from provider.gateway)", (out, err))
    rc, out, err = funk("invoke", "stacked", "--path", "/env", "--query", "GREETING", gateway=gwurl)
    check(rc == 0 and out == "hello yaml", "stack environment reaches the guest", (out, err))
    rc, out, err = funk("invoke", "stacked", "--path", "/env", "--query", "token", gateway=gwurl)
    check(rc == 0 and out == "xyz", "stack secret reaches the guest", (out, err))
    rc, out, _ = funk("describe", "stacked", "--json", gateway=gwurl)
    d = json.loads(out)
    check(d["mode"] == "warm" and d["annotations"] == {"owner": "me"} and d["limits"] == {"memory": "16M"},
          "stack labels, annotations, limits", d)
    bad = os.path.join(tmp.name, "bad.yml")
    with open(bad, "w") as f:
        f.write("functions:\n  x: [unclosed\n")
    rc, out, err = funk("deploy", "-f", bad, gateway=gwurl)
    check(rc == 64 and re.search(r"bad\.yml:3:1: ", err), "bad YAML: exit 64 with FILE:LINE:COLUMN", err)
    with open(bad, "w") as f:
        f.write("functions:\n  x:\n    environment: {}\n")
    rc, out, err = funk("deploy", "-f", bad, gateway=gwurl)
    check(rc == 64 and "image" in err, "stack function without image: exit 64", err)
    rc, out, err = funk("deploy", "-f", os.path.join(tmp.name, "missing.yml"), gateway=gwurl)
    check(rc == 64 and "cannot open" in err, "missing stack file: exit 64", err)
    rc, out, err = funk("deploy", "--name", "x", "--image", "/nonexistent", gateway=gwurl)
    check(rc == 1 and "400" in err and "not found" in err, "deploy of a missing image shows funkd's reason", err)

    # logs, scale, rm
    funk("invoke", "stacked", "--path", "/log", gateway=gwurl, stdin=b"cli-log-line\n")
    rc, out, err = funk("logs", "stacked", "--tail", "5", gateway=gwurl)
    check(rc == 0 and "cli-log-line" in out, "logs --tail", (out, err))
    rc, out, err = funk("logs", "nosuch", gateway=gwurl)
    check(rc == 1 and "404" in err, "logs of a missing function", err)
    rc, out, err = funk("scale", "stacked", "--replicas", "0", gateway=gwurl)
    check(rc == 0, "scale", err)
    rc, out, err = funk("scale", "stacked", "--replicas", "x", gateway=gwurl)
    check(rc == 64, "scale with a bad count exits 64", err)
    rc, out, err = funk("rm", "stacked", gateway=gwurl)
    check(rc == 0, "rm", err)
    rc, out, err = funk("rm", "stacked", gateway=gwurl)
    check(rc == 1 and "404" in err, "rm again: 404 reported", err)
    rc, out, err = funk("secret", "rm", "token", gateway=gwurl)
    check(rc == 0, "secret rm", err)
    rc, out, err = funk("daemon", "-d", gateway=gwurl, env={"FUNKD": FUNKD, "FUNK_LOG": os.path.join(tmp.name, "funkd-again.log")})
    check(rc == 0 and "already" in err, "funk daemon -d when funkd is already up", err)
finally:
    if pid:  # not our child (funk daemon -d detached it): wait until it is gone, bounded
        os.kill(pid, signal.SIGTERM)

        def gone():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True
        check(wait_for(gone, 20), "funkd started by funk daemon -d stops on SIGTERM")

# funk daemon -d where systemd runs the host and funkd.service is installed: it is systemctl
# start funkd.service (a stand-in systemctl on PATH records the calls and starts funkd the way
# the unit would; FUNK_SYSTEMD_RUNTIME_DIR stands for /run/systemd/system). Without systemd
# (the real check here: PID 1 is not systemd on this machine) funkd is started directly.
with tempfile.TemporaryDirectory(prefix="funk-sd-") as sd:
    sport = free_port()
    calls = os.path.join(sd, "calls")
    fake = os.path.join(sd, "bin", "systemctl")
    os.makedirs(os.path.dirname(fake))
    os.makedirs(os.path.join(sd, "run"))
    with open(fake, "w") as f:
        f.write("#!/bin/sh\necho \"$*\" >>%s\n" % calls +
                "case \"$1\" in\n  cat) exit 0 ;;\n"
                "  start) setsid %s --listen 127.0.0.1:%d --state-dir %s/state >%s/funkd.log 2>&1 </dev/null &\n"
                "    echo $! >%s/pid; exit 0 ;;\nesac\nexit 1\n" % (FUNKD, sport, sd, sd, sd))
    os.chmod(fake, 0o755)
    env = {"PATH": os.path.dirname(fake) + ":" + os.environ["PATH"],
           "FUNK_SYSTEMD_RUNTIME_DIR": os.path.join(sd, "run"), "FUNKD": ""}
    try:
        rc, out, err = funk("daemon", "-d", gateway="http://127.0.0.1:%d" % sport, env=env)
        made = open(calls).read().splitlines() if os.path.exists(calls) else []
        check(rc == 0 and "systemd service funkd.service" in out and "start funkd.service" in made,
              "funk daemon -d with systemd and the unit: systemctl start funkd.service",
              (rc, out, err, made))
    finally:
        if os.path.exists(os.path.join(sd, "pid")):
            spid = int(open(os.path.join(sd, "pid")).read())
            os.kill(spid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists("/proc/%d" % spid) or
                     open("/proc/%d/stat" % spid).read().rsplit(")", 1)[1].split()[0] == "Z", 20)
    # the unit unknown to systemctl (not installed): started directly, systemctl not asked to start
    os.remove(calls)
    with open(fake, "w") as f:
        f.write("#!/bin/sh\necho \"$*\" >>%s\nexit 1\n" % calls)
    env["FUNK_LOG"] = os.path.join(sd, "direct.log")
    dport = free_port()
    env["FUNK_STATE_DIR"] = os.path.join(sd, "dstate")
    rc, out, err = funk("daemon", "-d", gateway="http://127.0.0.1:%d" % dport, env=env)
    made = open(calls).read().splitlines() if os.path.exists(calls) else []
    check(rc == 0 and "is up" in out and "start funkd.service" not in made,
          "funk daemon -d without the unit: funkd started directly", (rc, out, err, made))
    m = re.search(r"pid (\d+)", out)
    if m:
        os.kill(int(m.group(1)), signal.SIGTERM)

# basic auth through the CLI
a = Funkd("--auth")
sec = os.path.join(a.tmp.name, "sec")
os.makedirs(sec)
open(os.path.join(sec, "basic-auth-user"), "w").write("admin")
open(os.path.join(sec, "basic-auth-password"), "w").write("pw")
a.args += ["--secrets-dir", sec]
a.auth = "admin:pw"
with a:
    rc, out, err = funk("ls", gateway=a.url())
    check(rc == 1 and "unauthorized" in err, "ls without credentials: unauthorized", err)
    rc, out, err = funk("-u", "admin", "-p", "pw", "ls", gateway=a.url())
    check(rc == 0, "ls with -u/-p", err)
    rc, out, err = funk("ls", gateway=a.url(), env={"FUNK_USER": "admin", "FUNK_PASSWORD": "pw"})
    check(rc == 0, "ls with FUNK_USER/FUNK_PASSWORD", err)
done()
