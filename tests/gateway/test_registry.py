# SPDX-License-Identifier: Apache-2.0
# Images from a registry: funk image push/pull against Debian's docker-registry on loopback,
# funkd deploying by reference (digest-pinned, cached, verified), a tampered blob refused, an
# uploaded oci-archive, hostile registries, and faas-cli's ":latest" on local images.
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, FUNK_CLI, Funkd, check, done, free_port, need_kvm, skip, wait_for  # noqa: E402

need_kvm()
REGISTRY = shutil.which("docker-registry")
if not REGISTRY:
    skip("docker-registry is not installed (scripts/deps.d/oci.txt lists it; run make deps)")

tmp = tempfile.TemporaryDirectory(prefix="funk-registry-test-")
T = tmp.name


class Registry:
    """docker-registry serve on a free loopback port with its own storage and access log; the
    systemd service the Debian package installs is never used."""

    def __init__(self):
        self.storage = os.path.join(T, "storage")
        self.log = os.path.join(T, "registry.log")
        self.proc = None

    def start(self):
        for attempt in range(5):
            self.port = free_port()
            cfg = os.path.join(T, "registry.yml")
            with open(cfg, "w") as f:
                f.write("version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"
                        "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                        "http:\n  addr: 127.0.0.1:%d\n" % (self.storage, self.port))
            logf = open(self.log, "ab")
            self.proc = subprocess.Popen([REGISTRY, "serve", cfg], stdout=logf, stderr=subprocess.STDOUT)
            logf.close()
            deadline = time.time() + 20
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/v2/" % self.port, timeout=1) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    time.sleep(0.05)
            text = self.logtext()
            self.stop()
            if "address already in use" in text:
                continue
            raise RuntimeError("docker-registry did not start:\n" + text[-3000:])
        raise RuntimeError("no free port for docker-registry")

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def count(self, pattern):
        return len(re.findall(pattern, self.logtext()))

    def blob_gets(self):
        return self.count(r'"GET /v2/[^ "]+/blobs/sha256:[0-9a-f]{64} HTTP')

    def manifest_gets(self):
        return self.count(r'"GET /v2/[^ "]+/manifests/[^ "]+ HTTP')

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def funk(*args, env=None):
    return subprocess.run([FUNK_CLI] + list(args), capture_output=True, text=True, timeout=120, env=env)


def manifest_raw(host, repo, ref):
    rq = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (host, repo, ref),
                                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(rq, timeout=10) as r:
        return r.read(), r.headers.get("Docker-Content-Digest")


def faas_cli_deploy(gw, name, image, method="POST"):
    """The body faas-cli 0.16 sends for `faas-cli deploy` (image tag appended by faas-cli)."""
    spec = {"service": name, "image": image, "network": "", "envProcess": "", "envVars": {},
            "constraints": [], "secrets": [], "labels": {}, "annotations": {},
            "limits": None, "requests": None, "readOnlyRootFilesystem": False, "namespace": ""}
    return gw.req(method, "/system/functions", spec, headers={"User-Agent": "faas-cli/0.16.11"})


def variant(src, dst, layer_fn, media_type):
    """A copy of layout src whose layer is layer_fn(layer bytes), with that media type."""
    idx = json.load(open(os.path.join(src, "index.json")))
    blob = lambda d: open(os.path.join(src, "blobs", "sha256", d[7:]), "rb").read()
    man = json.loads(blob(idx["manifests"][0]["digest"]))
    os.makedirs(os.path.join(dst, "blobs", "sha256"))

    def put(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(dst, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return d
    put(blob(man["config"]["digest"]))
    layer = layer_fn(blob(man["layers"][0]["digest"]))
    man["layers"][0] = {"mediaType": media_type, "digest": put(layer), "size": len(layer)}
    mb = json.dumps(man).encode()
    idx["manifests"][0].update(digest=put(mb), size=len(mb))
    json.dump(idx, open(os.path.join(dst, "index.json"), "w"))
    shutil.copy(os.path.join(src, "oci-layout"), dst)
    return dst


def gzip_bytes(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def gzip_zeros(n):
    """A gzip stream of n zero bytes, made in pieces (a decompression bomb)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk, out = bytes(1 << 20), []
    for _ in range(n >> 20):
        out.append(c.compress(chunk))
    return b"".join(out) + c.flush()


def invoke(gw, name, body):
    st, _, b = gw.req("POST", "/function/" + name, body)
    return st, b


reg = Registry().start()
HOST = "127.0.0.1:%d" % reg.port
try:
    # ---- push and pull with the CLI -------------------------------------------------------
    layout, archive = os.path.join(T, "layout"), os.path.join(T, "echo.tar")
    r = funk("image", "build", ELF["echo"], "-t", "echo", "--mode", "fn", "-o", layout, "--archive", archive)
    check(r.returncode == 0, "funk image build the echo image", r.stderr)
    r = funk("image", "push", layout, HOST + "/funk/echo:v1")
    digest = r.stdout.strip()
    check(r.returncode == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}", digest),
          "funk image push LAYOUT REF: exit 0, the digest on stdout", (r.returncode, r.stdout, r.stderr))
    raw, dcd = manifest_raw(HOST, "funk/echo", "v1")
    check("sha256:" + hashlib.sha256(raw).hexdigest() == digest and dcd == digest,
          "a raw GET of the manifest has the pushed digest", (digest, dcd))
    uploads = reg.count(r'"PUT /v2/funk/echo/blobs/uploads/')
    r = funk("image", "push", archive, HOST + "/funk/echo")
    check(r.returncode == 0 and r.stdout.strip() == digest, "pushing the oci-archive gives the same digest",
          (r.stdout, r.stderr))
    check(reg.count(r'"PUT /v2/funk/echo/blobs/uploads/') == uploads,
          "blobs the registry has are not uploaded again (HEAD first)")
    raw, _ = manifest_raw(HOST, "funk/echo", "latest")
    check("sha256:" + hashlib.sha256(raw).hexdigest() == digest, "default tag latest")
    r = funk("image", "pull", HOST + "/funk/echo:v1", os.path.join(T, "pulled"))
    check(r.returncode == 0 and r.stdout.strip() == digest, "funk image pull REF DIR", r.stderr)
    idx = json.load(open(os.path.join(T, "pulled", "index.json")))
    check(idx["manifests"][0]["digest"] == digest, "the pulled layout names the manifest")
    r = funk("image", "push", layout, "Bad Ref")
    check(r.returncode == 64 and "not an image reference" in r.stderr, "push refuses a bad reference", r.stderr)
    r = funk("image", "push", os.path.join(T, "nosuch"), HOST + "/funk/echo:x")
    check(r.returncode == 1 and "cannot read" in r.stderr, "push of a missing source fails", r.stderr)
    # registry-login: auths file, 0600
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(T, "xdg"))
    r = subprocess.run([FUNK_CLI, "registry-login", "--server", HOST, "--username", "u", "--password-stdin"],
                       input="p4ss\n", capture_output=True, text=True, env=env, timeout=30)
    af = os.path.join(T, "xdg", "funk", "auth.json")
    ok = r.returncode == 0 and os.path.exists(af) and (os.stat(af).st_mode & 0o777) == 0o600
    check(ok and json.load(open(af))["auths"][HOST]["auth"] == "dTpwNHNz",
          "funk registry-login stores base64(user:pass) in a 0600 auths file", r.stderr)
    r = subprocess.run([FUNK_CLI, "registry-login", "--server", "bad host", "-u", "u", "-p", "p"],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 64 and "bad host" in r.stderr, "registry-login refuses a bad server name", r.stderr)

    # ---- funkd deploys by reference -------------------------------------------------------
    state = os.path.join(T, "funkd-state")
    with Funkd(state=state) as gw:
        blobs0 = reg.blob_gets()
        st, _, b = faas_cli_deploy(gw, "regecho", HOST + "/funk/echo:v1")
        check(st == 202, "deploy image: host:port/repo:tag", (st, b))
        s = gw.status("regecho") or {}
        check(s.get("imageDigest") == digest and s.get("image") == HOST + "/funk/echo:v1",
              "status records the digest the tag resolved to", s)
        st, b = invoke(gw, "regecho", "from the registry")
        check(st == 200 and b == b"from the registry", "the pulled image runs", (st, b))
        check(wait_for(lambda: reg.blob_gets() - blobs0 == 2, 10),
              "the cold pull fetched config and layer once each", reg.blob_gets() - blobs0)
        blobs, mans = reg.blob_gets(), reg.manifest_gets()
        st, _, b = faas_cli_deploy(gw, "regecho", HOST + "/funk/echo:v1", method="PUT")
        check(st == 202, "re-deploy (update) by the same tag", (st, b))
        check(wait_for(lambda: reg.manifest_gets() > mans, 10), "the tag is resolved again at re-deploy")
        check(reg.blob_gets() == blobs, "re-deploy is served from the cache: no blob GETs",
              (blobs, reg.blob_gets()))
        n = reg.manifest_gets()
        st, _, b = faas_cli_deploy(gw, "regecho2", HOST + "/funk/echo@" + digest)
        check(st == 202 and reg.manifest_gets() == n and reg.blob_gets() == blobs,
              "deploy by digest of a cached image: no registry request at all", (st, b))
        st, b = invoke(gw, "regecho2", "pinned")
        check(st == 200 and b == b"pinned", "the digest-pinned function runs", (st, b))
        r = funk("--gateway", gw.url(), "deploy", "--name", "cliref", "--image", HOST + "/funk/echo:v1")
        check(r.returncode == 0 and (gw.status("cliref") or {}).get("imageDigest") == digest,
              "funk deploy --image REF sends the reference as it is", (r.stdout, r.stderr))
        cache = os.path.join(state, "images", "sha256")
        check(digest[7:] in os.listdir(cache), "cached under <state>/images/sha256/<digest>",
              os.listdir(cache))
        # gzip layers, as docker and podman push them
        GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
        for tag, fn, mt, want in [
                ("gz", gzip_bytes, GZ, None),
                ("dockergz", gzip_bytes, "application/vnd.docker.image.rootfs.diff.tar.gzip", None),
                ("badgz", lambda b: gzip_bytes(b)[:-200], GZ, b"corrupt or truncated"),
                ("bomb", lambda b: gzip_zeros(257 << 20), GZ, b"inflates past 256 MiB"),
                ("zstd", lambda b: b, "application/vnd.oci.image.layer.v1.tar+zstd", b"not supported")]:
            v = variant(layout, os.path.join(T, "layout-" + tag), fn, mt)
            r = funk("image", "push", v, HOST + "/funk/echo:" + tag)
            st, _, b = faas_cli_deploy(gw, "echo" + tag, HOST + "/funk/echo:" + tag)
            if want is None:
                check(r.returncode == 0 and st == 202, "a %s layer deploys" % tag, (r.stderr, st, b))
                st, b = invoke(gw, "echo" + tag, tag)
                check(st == 200 and b == tag.encode(), "and runs", (st, b))
            else:
                check(r.returncode == 0 and st == 400 and want in b, "a %s layer is refused" % tag,
                      (r.stderr, st, b))
        st, _, b = faas_cli_deploy(gw, "nothere", HOST + "/funk/nothere:v1")
        check(st == 400 and b"not found" in b, "an image the registry lacks: 400", (st, b))
        # an uploaded oci-archive
        with open(archive, "rb") as f:
            tar = f.read()
        st, _, b = gw.req("POST", "/system/images", tar, headers={"Content-Type": "application/x-tar"})
        check(st == 200 and json.loads(b)["digest"] == digest, "POST /system/images stores an oci-archive", (st, b))
        st, _, b = faas_cli_deploy(gw, "uploaded", digest)
        check(st == 202, "deploy image: sha256:DIGEST of an uploaded image", (st, b))
        st, b = invoke(gw, "uploaded", "uploaded")
        check(st == 200 and b == b"uploaded", "the uploaded image runs", (st, b))
        bad = bytearray(tar)
        elf_at = bad.find(b"\x7fELF")
        bad[elf_at + 200] ^= 0xFF
        other = Funkd().start()
        try:
            st, _, b = other.req("POST", "/system/images", bytes(bad))
            check(st == 400 and b"does not match" in b, "a tampered uploaded archive is refused", (st, b))
            # answered from the head alone: only the head is sent
            with socket.create_connection(("127.0.0.1", other.port), timeout=10) as sk:
                sk.sendall(b"POST /system/images HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (9 << 20))
                head = sk.recv(4096)
            check(head.startswith(b"HTTP/1.1 413"), "an upload over --max-body gets 413", head[:200])
            st, _, b = other.req("POST", "/system/images", b"not a tar at all" * 64)
            check(st == 400, "a non-archive upload is refused", (st, b))
            st, _, b = faas_cli_deploy(other, "x", "sha256:" + "0" * 64)
            check(st == 400 and b"not in funkd's image cache" in b, "an unknown digest is refused", (st, b))
        finally:
            other.stop()
            other.tmp.cleanup()
    # restart on the same state: restored from the cache at the pinned digest, no request; what
    # a pull cut short by a crash left (a tmp- directory) is removed at start-up
    blobs, mans = reg.blob_gets(), reg.manifest_gets()
    leftover = os.path.join(state, "images", "tmp-crashed")
    os.makedirs(os.path.join(leftover, "blobs", "sha256"))
    open(os.path.join(leftover, "blobs", "sha256", "part"), "w").write("x")
    with Funkd(state=state) as gw:
        check(not os.path.exists(leftover), "a cut-short pull's directory is removed at start-up")
        s = gw.status("regecho") or {}
        check(s.get("imageDigest") == digest, "restored function keeps its pinned digest", s)
        st, b = invoke(gw, "regecho", "after restart")
        check(st == 200 and b == b"after restart", "restored registry function runs", (st, b))
    check(reg.blob_gets() == blobs and reg.manifest_gets() == mans,
          "restart resolves nothing again (pinned, cached)", (reg.blob_gets(), reg.manifest_gets()))

    # ---- a tampered blob in the registry is refused ---------------------------------------
    man = json.loads(manifest_raw(HOST, "funk/echo", "v1")[0])
    layer = man["layers"][0]["digest"][7:]
    data = os.path.join(reg.storage, "docker/registry/v2/blobs/sha256", layer[:2], layer, "data")
    with open(data, "r+b") as f:
        f.seek(1000)
        c = f.read(1)
        f.seek(1000)
        f.write(bytes([c[0] ^ 0xFF]))
    r = funk("image", "pull", HOST + "/funk/echo:v1", os.path.join(T, "pulled2"))
    check(r.returncode == 1 and "does not match" in r.stderr, "funk image pull refuses the tampered blob", r.stderr)
    with Funkd() as gw:
        st, _, b = faas_cli_deploy(gw, "tampered", HOST + "/funk/echo:v1")
        check(st == 400 and b"does not match" in b, "funkd refuses to deploy a tampered image", (st, b))
        cache = os.path.join(gw.state, "images")
        left = [d for d, _, fs in os.walk(cache) for f in fs] if os.path.isdir(cache) else []
        check(left == [], "nothing of the refused pull is left in the cache", left)
        check(gw.status("tampered") is None, "no function was created")

    # ---- fix 1: faas-cli's ":latest" on local images ---------------------------------------
    os.environ["FUNK_UNIKERNEL_PATH"] = os.path.dirname(ELF["echo"])
    with Funkd() as gw:
        st, _, b = faas_cli_deploy(gw, "pathlatest", ELF["echo"] + ":latest")
        check(st == 202, "image: /path/echo.elf:latest deploys the local file", (st, b))
        st, b = invoke(gw, "pathlatest", "p")
        check(st == 200 and b == b"p", "it runs", (st, b))
        st, _, b = faas_cli_deploy(gw, "namelatest", "echo:latest")
        check(st == 202, "image: echo:latest deploys the installed unikernel echo", (st, b))
        st, b = invoke(gw, "namelatest", "n")
        check(st == 200 and b == b"n", "it runs", (st, b))
        st, _, b = faas_cli_deploy(gw, "layoutlatest", layout + ":latest")
        check(st == 202, "image: LAYOUT-DIR:latest deploys the local OCI layout", (st, b))
        st, _, b = faas_cli_deploy(gw, "pathv2", ELF["echo"] + ":v2")
        check(st == 400 and b"no tag but latest" in b, "another tag on a local path is an error that says so", (st, b))
        st, _, b = faas_cli_deploy(gw, "namev2", "echo:v2")
        check(st == 400 and b"no tag but latest" in b, "another tag on an installed name too", (st, b))
        st, _, b = faas_cli_deploy(gw, "nosuch", "nosuch-fn:latest")
        check(st == 400 and b"not found" in b, "an unknown name with :latest: not found", (st, b))
finally:
    reg.stop()


# ---- hostile registries ---------------------------------------------------------------------
class Hostile(http.server.BaseHTTPRequestHandler):
    mode = ""
    release = threading.Event()
    stalled = threading.Event()

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/vnd.oci.image.manifest.v1+json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        m = Hostile.mode
        if m == "huge-manifest":
            return self.send(200, b'{"x":"' + b"a" * (5 << 20) + b'"}')
        if m == "redirect-loop":
            return self.send(302, b"", extra={"Location": self.path})
        if m == "many-layers":
            L = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + "1" * 64, "size": 1}
            man = {"schemaVersion": 2, "config": L, "layers": [L] * 100}
            return self.send(200, json.dumps(man).encode())
        if m == "long-blob":
            if "/manifests/" in self.path:
                cfg = {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(), "size": 2}
                man = {"schemaVersion": 2, "config": cfg, "layers": []}
                return self.send(200, json.dumps(man).encode())
            return self.send(200, b"{}" + b" " * (1 << 20), "application/octet-stream")
        if m == "stall":
            Hostile.stalled.set()
            Hostile.release.wait(30)
            return self.send(404, b"")
        if m == "wrong-dcd":
            return self.send(200, b'{"schemaVersion":2}', extra={"Docker-Content-Digest": "sha256:" + "2" * 64})
        self.send(404, b"")


# ---- registries that ask for credentials: Basic, and the docker token (Bearer) flow ----------
class AuthReg(http.server.BaseHTTPRequestHandler):
    """Serves the echo layout's blobs and manifest (as funk/echo:v1) only to authorized calls."""
    scheme = "basic"
    seen = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        AuthReg.seen.append((self.path, auth))
        port = self.server.server_address[1]
        if self.path.startswith("/token?"):
            ok = auth == "Basic dTpwNHNz"  # u:p4ss
            body = json.dumps({"token": "tok123"}).encode() if ok else b""
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        want = "Basic dTpwNHNz" if AuthReg.scheme == "basic" else "Bearer tok123"
        if auth != want:
            chal = ('Basic realm="test"' if AuthReg.scheme == "basic" else
                    'Bearer realm="http://127.0.0.1:%d/token",service="test",scope="repository:funk/echo:pull"' % port)
            self.send_response(401)
            self.send_header("WWW-Authenticate", chal)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        idx = json.load(open(os.path.join(layout, "index.json")))
        d = idx["manifests"][0]["digest"] if self.path.endswith("/manifests/v1") else self.path.rsplit("/", 1)[1]
        try:
            body = open(os.path.join(layout, "blobs", "sha256", d[7:]), "rb").read()
        except OSError:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


asrv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), AuthReg)
threading.Thread(target=asrv.serve_forever, daemon=True).start()
AH = "127.0.0.1:%d" % asrv.server_address[1]
try:
    r = subprocess.run([FUNK_CLI, "registry-login", "--server", AH, "-u", "u", "-p", "p4ss"],
                       capture_output=True, text=True, env=env, timeout=30)
    check(r.returncode == 0, "registry-login for a second registry", r.stderr)
    for scheme in ("basic", "bearer"):
        AuthReg.scheme = scheme
        r = funk("image", "pull", AH + "/funk/echo:v1", os.path.join(T, "noauth-" + scheme))
        check(r.returncode == 1 and "registry-login" in r.stderr, "%s: no credentials: refused, says registry-login" % scheme, r.stderr)
        r = funk("image", "pull", AH + "/funk/echo:v1", os.path.join(T, "auth-" + scheme), env=env)
        check(r.returncode == 0 and r.stdout.strip() == digest,
              "%s: funk image pull with funk registry-login's credentials" % scheme, r.stderr)
    # the test registry-login above stored credentials for HOST; funkd gets an auths file for AH
    af2 = os.path.join(T, "funkd-auth.json")
    with open(af2, "w") as f:
        json.dump({"auths": {AH: {"auth": "dTpwNHNz"}}}, f)
    AuthReg.scheme = "bearer"
    with Funkd("--registry-auth", af2) as gw:
        st, _, b = faas_cli_deploy(gw, "authed", AH + "/funk/echo:v1")
        check(st == 202 and (gw.status("authed") or {}).get("imageDigest") == digest,
              "funkd --registry-auth: deploy from a registry that wants a token", (st, b))
        st, b = invoke(gw, "authed", "authed")
        check(st == 200 and b == b"authed", "it runs", (st, b))
    with Funkd() as gw:
        st, _, b = faas_cli_deploy(gw, "unauthed", AH + "/funk/echo:v1")
        check(st == 400 and b"registry-login" in b, "funkd without credentials: 400 saying so", (st, b))
finally:
    asrv.shutdown()


# ---- an upload Location on another host gets the blob but not the registry's credentials ----
class Sink(http.server.BaseHTTPRequestHandler):
    auths = []

    def log_message(self, *a):
        pass

    def do_PUT(self):
        Sink.auths.append(self.headers.get("Authorization"))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


class LeakReg(http.server.BaseHTTPRequestHandler):
    auths = []

    def log_message(self, *a):
        pass

    def answer(self, code, extra=None):
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def authed(self):
        LeakReg.auths.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != "Basic dTpwNHNz":
            self.answer(401, {"WWW-Authenticate": 'Basic realm="t"'})
            return False
        return True

    def do_HEAD(self):
        if self.authed():
            self.answer(404)

    def do_POST(self):
        if self.authed():
            self.answer(202, {"Location": "http://127.0.0.1:%d/elsewhere/up?x=1" % sink.server_address[1]})

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.authed():
            self.answer(201)


sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
lsrv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LeakReg)
for x in (sink, lsrv):
    threading.Thread(target=x.serve_forever, daemon=True).start()
LH = "127.0.0.1:%d" % lsrv.server_address[1]
try:
    r = funk("image", "push", "-u", "u", "-p", "p4ss", layout, LH + "/funk/echo:v1")
    check(r.returncode == 0 and len(Sink.auths) == 2 and Sink.auths == [None, None]
          and "Basic dTpwNHNz" in LeakReg.auths,
          "an upload Location on another host gets the blobs without the registry's credentials",
          (r.stderr, Sink.auths, LeakReg.auths))
finally:
    sink.shutdown()
    lsrv.shutdown()

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
threading.Thread(target=srv.serve_forever, daemon=True).start()
HH = "127.0.0.1:%d" % srv.server_address[1]
try:
    for mode, text in [("huge-manifest", "larger than its limit"), ("redirect-loop", "redirect"),
                       ("many-layers", "layers"), ("long-blob", "larger than its manifest says"),
                       ("wrong-dcd", "does not match its digest")]:
        Hostile.mode = mode
        t0 = time.time()
        r = funk("image", "pull", HH + "/evil/img:1", os.path.join(T, "evil-" + mode))
        check(r.returncode == 1 and text.lower() in r.stderr.lower() and time.time() - t0 < 30,
              "hostile registry (%s) refused" % mode, r.stderr)
    # a registry that never answers: the pull ends at --registry-timeout, and funkd serves other
    # requests meanwhile (the pull holds only its own connection's thread)
    Hostile.mode = "stall"
    with Funkd("--registry-timeout", "3") as gw:
        res = {}

        def slow_deploy():
            t0 = time.time()
            res["r"] = faas_cli_deploy(gw, "stalled", HH + "/evil/img:1")
            res["t"] = time.time() - t0
        th = threading.Thread(target=slow_deploy)
        th.start()
        # wait until the pull has reached the registry, then use funkd meanwhile
        check(Hostile.stalled.wait(10), "the stalled pull reached the registry")
        t0 = time.time()
        st1 = gw.req("GET", "/healthz")[0]
        st2 = gw.req("GET", "/system/functions")[0]
        during = th.is_alive()
        check(st1 == 200 and st2 == 200 and time.time() - t0 < 2,
              "funkd answers other requests while a pull is stalled", (st1, st2, time.time() - t0, during))
        th.join(30)
        st, _, b = res.get("r", (0, {}, b""))
        check(st == 400 and b"Timeout" in b and 2.5 < res.get("t", 0) < 10,
              "a stalled registry: the deploy fails at --registry-timeout", (st, b, res.get("t")))
finally:
    Hostile.release.set()
    srv.shutdown()
tmp.cleanup()
done()
