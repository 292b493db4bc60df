#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end checks of the funk-monitor command line: usage errors, load refusals, exit codes.
set -u
MON=${1:?usage: cli.sh PATH/TO/funk-monitor}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

# expect CODE PATTERN -- ARGS...: runs the monitor, checks exit code and that stderr+stdout match.
expect() {
    local code=$1 pat=$2
    shift 3
    "$MON" "$@" >"$T/out" 2>&1 </dev/null
    local rc=$?
    if [ "$rc" -ne "$code" ] || ! grep -qE -- "$pat" "$T/out"; then
        echo "FAIL: funk-monitor $* -> rc=$rc (want $code), output:"; sed 's/^/  | /' "$T/out"
        echo "  (wanted /$pat/)"
        fails=$((fails + 1))
    else
        echo "ok: funk-monitor $* -> $rc"
    fi
}

expect 0 "usage: funk-monitor" -- --help
expect 64 "no KERNEL.elf given" --
expect 64 "unknown option '--bogus'" -- --bogus x.elf
expect 64 "even number of MiB" -- --mem=3 x.elf
expect 64 "even number of MiB" -- --mem=abc x.elf
expect 64 "not a number of seconds" -- --timeout=-1 x.elf
expect 64 "expected --block:NAME=PATH" -- --block:disk x.elf
expect 64 "is not kvm, process or auto" -- --isolation=xen x.elf
expect 64 "is not 'Name: value'" -- --fn-header=nocolon x.elf
expect 64 "must start with '/'" -- --fn-path=abc x.elf
expect 66 "cannot open '/nonexistent/disk'" -- --block:disk=/nonexistent/disk x.elf
expect 65 "cannot read '/nonexistent.elf'" -- /nonexistent.elf
printf 'definitely not an ELF file, but longer than sixty-four bytes of header ....\n' >"$T/junk.elf"
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    expect 65 "not an ELF file: bad magic" -- "$T/junk.elf"
    head -c 10 "$T/junk.elf" >"$T/short.elf"
    expect 65 "shorter than an ELF header" -- "$T/short.elf"
    # A real host binary: dynamic, PIE.
    expect 65 "ET_DYN|PT_DYNAMIC|not an executable" -- /bin/true
    # Unikernels from the guest helper's build, when this build has them.
    U="${FUNK_BUILD_ROOT:-}/functions"
    if [ -f "$U/hello.elf" ]; then
        expect 0 "Hello" -- --isolation=kvm "$U/hello.elf"
        expect 0 "Hello" -- --isolation=process "$U/hello.elf"
        expect 0 "isolation: (kvm|process) \(auto" -- --verbose "$U/hello.elf"
        expect 65 "declared in the manifest is not attached" -- "$U/test_block.elf"
        expect 65 "declared in the manifest is not attached" -- --isolation=process "$U/test_block.elf"
    else
        echo "note: $U/hello.elf not built here: unikernel runs left to tests/unikernels"
    fi
else
    echo "SKIP (partly): /dev/kvm not usable: load/run checks NOT RUN"
fi

# ACCEL (issue 11): no plugin runs in the monitor or the guest. By default the monitor starts
# a private funk-accel-agent child for a guest that uses ACCEL (the build's agent, found from
# the monitor's own path), and the agent ends with the monitor.
B="${FUNK_BUILD_ROOT:-}"
CLS="$B/functions/classify.elf" HELLO="$B/functions/hello.elf" IMG=/usr/share/darknet/data/dog.jpg
AGENT="$B/accel/agent/funk-accel-agent"
if [ -x "$AGENT" ] && [ -f "$CLS" ] && [ -f "$HELLO" ] && [ -r "$IMG" ] &&
    [ -r "${FUNK_MODEL_DIR:-}/centernet.onnx" ] &&
    "$MON" --isolation=process "$HELLO" >/dev/null 2>&1; then
    export FUNK_ACCEL_PLUGINS=cpu
    # the build's agent under a unique argv[0]: whether it still runs after the monitor is a
    # question about this name only (never about an agent someone else started)
    printf '#!/bin/bash\nexec -a "%s" "%s" "$@"\n' "$T/agent-of-this-test" "$AGENT" >"$T/agent.sh"
    chmod 755 "$T" "$T/agent.sh"
    export FUNK_ACCEL_AGENT="$T/agent.sh"
    FUNK_ACCEL_LOG_LEVEL=info expect 0 '\[agent\] connection 1 from private' -- --isolation=process --mem=64 --fn-input=$IMG "$CLS"
    grep -q '"label":"dog"' "$T/out" && echo "ok: classify through the private agent" ||
        { echo "FAIL: no dog in the private agent's answer"; fails=$((fails + 1)); }
    expect 0 '"label":"dog"' -- --isolation=process --mem=64 --accel=inproc --fn-input=$IMG "$CLS"
    # stdin given with --fn-input=- still reaches the guest
    "$MON" --isolation=process --mem=64 --fn-input=- "$CLS" <"$IMG" >"$T/stdin.out" 2>&1
    if grep -q '"label":"dog"' "$T/stdin.out"; then echo "ok: --fn-input=- with ACCEL"
    else echo "FAIL: --fn-input=- with ACCEL:"; sed 's/^/  | /' "$T/stdin.out"; fails=$((fails + 1)); fi
    # the agent ended with its monitor (PR_SET_PDEATHSIG, end of file on its socket): wait for
    # it with a deadline rather than a fixed sleep
    for _ in $(seq 100); do pgrep -f "^$T/agent-of-this-test" >/dev/null || break; sleep 0.05; done
    if pgrep -f "^$T/agent-of-this-test" >/dev/null; then
        echo "FAIL: the private agent outlived its monitor"; fails=$((fails + 1))
    else echo "ok: the private agent ended with its monitor"; fi
    # no ACCEL note: no agent is started at all
    FUNK_ACCEL_LOG_LEVEL=info expect 0 "Hello" -- --isolation=process "$HELLO"
    if grep -q "\[agent\]" "$T/out"; then echo "FAIL: an agent started for a guest without ACCEL"; fails=$((fails + 1)); fi
    # no agent binary: a clear line, and the guest's ACCEL calls fail (it says so)
    FUNK_ACCEL_AGENT=/nonexistent/funk-accel-agent expect 1 "cannot start the private funk-accel-agent" -- --verbose --isolation=process --mem=64 --fn-input=$IMG "$CLS"
    # --accel=agent: an agent that is not there (the guest says so); none: no ACCEL at all
    expect 1 "no accelerator session" -- --verbose --isolation=process --mem=64 --accel=agent:unix://$T/none.sock --fn-input=$IMG "$CLS"
    expect 1 "no accelerator session" -- --isolation=process --mem=64 --accel=none --fn-input=$IMG "$CLS"
    expect 64 "is not private, none or agent:ADDR" -- --accel=plugins x.elf
    unset FUNK_ACCEL_PLUGINS FUNK_ACCEL_AGENT
else
    echo "note: ACCEL checks NOT RUN (needs the agent, classify.elf, hello.elf, $IMG, the model, the process backend)"
fi
# --fn-output=http: the guest's response as HTTP/1.1 (status line, its headers, Content-Length,
# blank line, body) for funk-watchdog to relay; body (default) writes the body alone.
expect 64 "--fn-output: 'json' is not body or http" -- --fn-output=json x.elf
ECHO="$B/functions/echo.elf"
if [ -f "$ECHO" ] && "$MON" --isolation=process --fn-input=/dev/null "$ECHO" >/dev/null 2>&1; then
    printf 'hello\r\nworld, %s' "$(head -c 3000 /dev/zero | tr '\0' x)" >"$T/req.bin"
    for iso in process kvm; do
        [ $iso = kvm ] && ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; } && continue
        "$MON" --isolation=$iso --fn-input="$T/req.bin" --fn-method=PUT --fn-path=/a/b \
            --fn-header='X-Test: v1' --fn-output=http "$ECHO" >"$T/http.out" 2>"$T/http.err"
        rc=$?
        if python3 - "$T/http.out" "$T/req.bin" <<'PY'
import sys
out, body = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
head, sep, rest = out.partition(b"\r\n\r\n")
lines = head.split(b"\r\n")
h = {}
for l in lines[1:]:
    k, _, v = l.partition(b": ")
    h.setdefault(k.lower(), []).append(v)
ok = (sep and lines[0] == b"HTTP/1.1 200 OK" and h.get(b"content-length") == [str(len(body)).encode()]
      and h.get(b"x-echo-method") == [b"PUT"] and h.get(b"x-echo-path") == [b"/a/b"]
      and h.get(b"x-echo-h-x-test") == [b"v1"] and rest == body
      and all(b"\n" not in l and b":" in l for l in lines[1:]))
if not ok:
    print("  | " + repr(out[:600]))
sys.exit(0 if ok else 1)
PY
        then echo "ok: --fn-output=http ($iso): status line, guest headers, Content-Length, body"
        else echo "FAIL: --fn-output=http ($iso), rc=$rc: $(tail -2 "$T/http.err")"; fails=$((fails + 1)); fi
    done
    "$MON" --isolation=process --fn-input="$T/req.bin" "$ECHO" >"$T/body.out" 2>/dev/null
    "$MON" --isolation=process --fn-input="$T/req.bin" --fn-output=body "$ECHO" >"$T/body2.out" 2>/dev/null
    if cmp -s "$T/body.out" "$T/req.bin" && cmp -s "$T/body2.out" "$T/req.bin"; then
        echo "ok: --fn-output=body (and the default): the body alone"
    else echo "FAIL: --fn-output=body is not the body alone"; fails=$((fails + 1)); fi
else
    echo "note: --fn-output runs NOT RUN (needs $ECHO and the process backend)"
fi
[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all CLI checks passed"
