# SPDX-License-Identifier: Apache-2.0
"""The commands the docs show still work, so a renamed flag or a stale sentence cannot survive:

1. Every command line in a code block of README.md and docs/*.md that starts with a funk binary
   (`funk ...`, `build/bin/funkd ...`) names an installed binary, a command it has, and only
   long options it accepts (tried as "BIN [CMD] --opt x --help": a known option reaches --help
   or refuses the value x by name, an unknown one is refused as unknown).
2. The README's "Try it by hand" commands are run for real against the installed tree
   (build/ replaced by FUNK_PREFIX) and must exit 0.
3. The podman flags docs/oci.md tells users to give are exactly the ones tests/oci/lib.sh runs
   podman with, and podman itself (when installed) knows every option the docs use with it.

Usage: doc_commands.py SOURCE_ROOT FUNK_PREFIX
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SRC, PREFIX = sys.argv[1], sys.argv[2]
BIN = os.path.join(PREFIX, "bin")
if not os.path.isfile(os.path.join(BIN, "funk")):
    # meson test alone does not install: make test (or meson install) puts the tree there first
    print(f"SKIP: nothing installed in {PREFIX} (no bin/funk): run `make build-test` (it installs) "
          "or `meson install`, then this test", file=sys.stderr)
    sys.exit(77)
fails = 0
env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
for k in ("OPENFAAS_URL", "FUNK_GATEWAY"):
    env.pop(k, None)


def check(cond, what, detail=""):
    global fails
    print(("ok   - " if cond else "FAIL - ") + what + ("" if cond else f": {detail}"))
    if not cond:
        fails += 1


def blocks(path):
    """(line number, text) of every line inside fenced or 4-space-indented code blocks."""
    out, fenced, prev_blank = [], False, True
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        s = line.rstrip("\n")
        if s.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            out.append((n, s.strip()))
        elif s.startswith("    ") and s.strip() and (prev_blank or out and out[-1][0] == n - 1):
            # indented block: only after a blank line or inside one (not a list continuation)
            if not s.lstrip().startswith(("-", "*", "|")):
                out.append((n, s.strip()))
        prev_blank = not s.strip()
    return out


installed = {os.path.basename(p) for p in glob.glob(os.path.join(BIN, "*"))}
cmd_re = re.compile(r"^(?:\$ |sudo )?(?:build/bin/|/usr/(?:local/)?bin/)?(funk(?:d|-[a-z-]+)?)(?:\s|$)")


SCRATCH = tempfile.mkdtemp(prefix="funk-doccmd-cwd.")  # what dummy values create lands here


def run(argv, timeout=20, stdin=subprocess.DEVNULL):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=stdin, cwd=SCRATCH)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return 124, "", "timeout"


def recognised(binary, before, opt):
    """before: the words the doc puts ahead of opt (command, earlier options and arguments)."""
    def ok(words):
        rc, out, err = run([os.path.join(BIN, binary)] + list(before) + words)
        return rc == 0 or (rc == 64 and not re.search(r"unknown|unrecognized|invalid option", err,
                                                      re.I))
    # a flag without a value (funk-monitor --linux) would take "x" as the first non-option word
    return ok([opt, "x", "--help"]) or ok([opt, "--help"])


def commands_of(binary):
    """The commands a binary lists in its --help ("  NAME ..." lines under a commands header)."""
    rc, out, _ = run([os.path.join(BIN, binary), "--help"])
    names, on = set(), False
    for line in out.splitlines():
        if re.match(r"^\s*commands?:", line, re.I):
            on = True
            continue
        if on:
            m = re.match(r"^  ([a-z][a-z-]*)\b", line)
            if m:
                names.add(m.group(1))
            elif line and not line.startswith(" "):
                on = False
    return names


docs = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
seen, checked = set(), 0
cmd_cache = {}
for doc in docs:
    rel = os.path.relpath(doc, SRC)
    for n, text in blocks(doc):
        for part in re.split(r"\s*(?:;|&&|\|\|?)\s*", text.split("  #")[0]):
            m = cmd_re.match(part)
            if not m:
                continue
            binary = m.group(1)
            where = f"{rel}:{n}: {part[:90]}"
            if binary not in installed:
                check(False, where, f"{binary} is not an installed binary")
                continue
            part = re.sub(r"^(?:\$ |sudo )", "", part)
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                words = part.split()
            words = words[1:]
            synopsis = any(w.startswith("[") or w.endswith("]") or w == "..." for w in words)
            if binary not in cmd_cache:
                cmd_cache[binary] = commands_of(binary)
            cmds = cmd_cache[binary]
            cmd = None
            if cmds:
                # global options may come first; the command is the first plain lower-case word
                first = next((w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)), None)
                if first is not None:
                    check(first in cmds, f"{where}: command '{first}'", f"not one of {sorted(cmds)}")
                    cmd = first if first in cmds else None
            for i, w in enumerate(words):
                mo = re.match(r"^\[?(--[a-z][a-z0-9-]*)", w)
                if not mo:
                    continue
                opt = mo.group(1)
                if ":" in w[len(mo.group(0)):len(mo.group(0)) + 1]:
                    # Solo5-style --block:NAME=PATH: the prefix must be in the help text
                    rc, out, _ = run([os.path.join(BIN, binary), "--help"])
                    key = (binary, opt + ":")
                    if key not in seen:
                        seen.add(key)
                        check(opt + ":" in out, f"{where}: {opt}: documented in {binary} --help")
                    continue
                key = (binary, cmd, opt, tuple(words[:i]) if not synopsis else ())
                if key in seen:
                    continue
                seen.add(key)
                checked += 1
                # a synopsis line ([--opt VALUE] ...) is tried after its command only; a real
                # command line with everything the doc writes before the option
                before = ([cmd] if cmd else []) if synopsis else words[:i]
                ok = recognised(binary, before, opt)
                check(ok, f"{where}: {binary}{' ' + cmd if cmd else ''} accepts {opt}")
print(f"doc-commands: {checked} distinct (binary, command, option) uses checked")

# 2. README's hand-run commands, for real
readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
section = readme.split("Try it by hand", 1)[1].split("\n\n", 2)[1] if "Try it by hand" in readme else ""
with tempfile.TemporaryDirectory(prefix="funk-doccmd.") as tmp:
    for line in section.splitlines():
        line = line.strip().split("  #")[0].strip()
        if not line.startswith("build/"):
            continue
        argv = [w.replace("build/", PREFIX.rstrip("/") + "/", 1) if w.startswith("build/") else w
                for w in shlex.split(line)]
        if any(w.startswith("/usr/share/darknet") for w in argv) and not os.path.exists(
                "/usr/share/darknet/data/dog.jpg"):
            print(f"skip - {line}: darknet's dog.jpg is not installed")
            continue
        # outputs the docs name (e.g. --draw FILE) land in a temp dir
        argv = [os.path.join(tmp, w) if (i > 0 and argv[i - 1] == "--draw") else w
                for i, w in enumerate(argv)]
        rc, out, err = run(argv, timeout=300)
        check(rc == 0, f"README: `{line}` runs (exit 0)", f"exit {rc}: {err[-300:]}")

# 3. podman flags: the docs' and the tests' are the same, and podman knows them
oci = open(os.path.join(SRC, "docs", "oci.md"), encoding="utf-8").read()
lib = open(os.path.join(SRC, "tests", "oci", "lib.sh"), encoding="utf-8").read()
test_flags = re.findall(r"--ulimit \S+", re.search(r'PODMAN_RUN="([^"]*)"', lib).group(1))
for f in test_flags:
    check(f in oci, f"docs/oci.md gives podman the tests' `{f}`")
for key in ('cgroup_manager = "cgroupfs"', 'events_logger = "file"'):
    check(key in oci and key in lib, f"docs/oci.md and tests/oci/lib.sh both set {key}")
if shutil.which("podman"):
    helps = {}
    for n, text in [x for d in docs for x in blocks(d)]:
        m = re.match(r"^(?:echo .*\| )?podman (run|load|save|stop|rm|images)\b(.*)$", text)
        if not m:
            continue
        sub = m.group(1)
        if sub not in helps:
            # podman's global options (--runtime, ...) are listed by `podman --help`
            helps[sub] = run(["podman", sub, "--help"])[1] + run(["podman", "--help"])[1]
        for opt in re.findall(r"(?:^|\s)(--[a-z][a-z-]*)", m.group(2)):
            check(re.search(r"(^|\s)" + re.escape(opt) + r"\b", helps[sub]) is not None,
                  f"podman {sub} knows the docs' {opt}")
else:
    print("skip - podman is not installed: its options are not checked")

shutil.rmtree(SCRATCH, ignore_errors=True)
if fails:
    print(f"doc-commands: {fails} failure(s)")
    sys.exit(1)
print("doc-commands: all checks passed")
