#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stdio images (com.funk.io=stdio): an unmodified static busybox run by funk-runtime under the
# monitor's Linux personality, directly, through podman and through containerd, byte-identical to
# busybox run natively; the classic-watchdog HTTP mode (fprocess); hostile bundles refused.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_bin "$RUNTIME" "$MONITOR"
need_cmd podman containerd ctr curl
[ -x /bin/busybox ] && file -L /bin/busybox | grep -q "statically linked" ||
    skip "/bin/busybox is not Debian's busybox-static (apt busybox-static)"

T=$(mktemp -d /tmp/funk-oci-stdio.XXXXXX)
ROOT=$T/root
SRV=
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
    [ -n "${D:-}" ] && [ -f "$D/pid" ] && kill "$(cat "$D/pid")" 2>/dev/null
    [ -n "${PMDIR:-}" ] && podman_cleanup
    rm -rf "$T"
}
trap cleanup EXIT
RT() { "$RUNTIME" --root "$ROOT" "$@"; }

# The image a user would make: busybox-static FROM scratch, applet links, a data file.
R=$T/rootfs
mkdir -p "$R/bin" "$R/etc"
cp /bin/busybox "$R/bin/"
for l in wc sha256sum base64 sort md5sum tr expr cat env false; do ln -s busybox "$R/bin/$l"; done
printf 'shipped in the image\n' >"$R/etc/motd"
printf 'the quick brown fox\njumps over\nthe lazy dog 42\n' >"$T/input"

# bundle DIR ARGS-JSON [ENV-JSON-ENTRIES] [ANNOTATION-VALUE]
bundle() {
    mkdir -p "$1"
    ln -sfn "$R" "$1/rootfs"
    cat >"$1/config.json" <<EOC
{"ociVersion":"1.0.2","root":{"path":"$R"},
 "process":{"args":$2,"env":["PATH=/bin","GREETING=hi-from-env"${3:+,$3}],"cwd":"/"},
 "annotations":{"com.funk.io":"${4:-stdio}"},
 "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}]}}
EOC
}

# ---- funk-runtime run: applets byte-identical to native busybox ----
n=0
while IFS='|' read -r args native; do
    n=$((n + 1))
    bundle "$T/b$n" "$args"
    (cd "$T/b$n" && RT run "s$$-$n" <"$T/input" >"$T/got" 2>"$T/err")
    rc=$?
    # shellcheck disable=SC2086
    (cd "$R" && eval "/bin/busybox $native" <"$T/input" >"$T/want" 2>/dev/null)
    nrc=$?
    checkrc "run $native: exit status as native" "$nrc" "$rc" "$T/err"
    if cmp -s "$T/want" "$T/got"; then ok "run $native: output byte-identical to native"; else
        fail "run $native: output differs from native"; diff "$T/want" "$T/got" | head -5; fi
done <<'EOL'
["/bin/busybox","wc","-w"]|wc -w
["wc","-l"]|wc -l
["sha256sum"]|sha256sum
["base64"]|base64
["sort"]|sort
["md5sum"]|md5sum
["tr","a-z","A-Z"]|tr a-z A-Z
["expr","6","*","7"]|expr 6 '*' 7
["cat","/etc/motd"]|cat etc/motd
["false"]|false
EOL
bundle "$T/stderr" '["cat","/nonexistent"]'
(cd "$T/stderr" && RT run "s$$-stderr" </dev/null >"$T/got" 2>"$T/err")
check "a failing program: its exit status" 1 $?
contains "the program's stderr is the container's stderr" "nonexistent" "$(cat "$T/err")"
check "the program's stderr is not on stdout" "" "$(cat "$T/got")"
bundle "$T/env" '["env"]'
out=$(cd "$T/env" && RT run "s$$-env" </dev/null 2>&1)
contains "process.env is the program's environment" "GREETING=hi-from-env" "$out"

# ---- hostile bundles: refused, nothing of the host reached ----
bundle "$T/dyn" '["/bin/dyn"]'
cp /bin/true "$R/bin/dyn"
out=$(cd "$T/dyn" && RT run "s$$-dyn" </dev/null 2>&1)
check "a dynamic ELF: run fails" 1 $?
contains "a dynamic ELF: says why" "dynamically linked" "$out"
rm -f "$R/bin/dyn"
echo "host secret $$" >"$T/hostfile"
ln -s "$T/hostfile" "$R/etc/abs"
ln -s ../../../../../../../.."$T/hostfile" "$R/etc/rel"
for l in abs rel; do
    bundle "$T/sym$l" "[\"cat\",\"/etc/$l\"]"
    out=$(cd "$T/sym$l" && RT run "s$$-sym$l" </dev/null 2>&1)
    check "cat of a symlink out of the rootfs ($l): fails" 1 $?
    case "$out" in *"host secret"*) fail "symlink $l reached the host file" ;; *) ok "symlink $l: host file not read" ;; esac
done
mkdir -p "$R/abs" && ln -s /bin/busybox "$R/abs/expr" # absolute: resolves inside the rootfs
bundle "$T/bin-abs" '["/abs/expr","1","+","1"]'
out=$(cd "$T/bin-abs" && RT run "s$$-abs" </dev/null 2>"$T/err")
checkrc "an absolute link as the program resolves inside the rootfs" 2 "$out" "$T/err"
rm -rf "$R/abs"
ln -s "$T/hostfile" "$R/bin/esc"
bundle "$T/bin-esc" '["/bin/esc"]'
out=$(cd "$T/bin-esc" && RT run "s$$-esc" </dev/null 2>&1)
check "a program that is a link out of the rootfs: refused" 1 $?
rm -f "$R/bin/esc"
big=$(head -c 300000 /dev/zero | tr '\0' a)
bundle "$T/huge" "[\"wc\",\"$big\"]"
out=$(cd "$T/huge" && RT run "s$$-huge" </dev/null 2>&1)
check "huge args: refused" 1 $?
contains "huge args: says why" "arguments and environment" "$out"
bundle "$T/badio" '["wc"]' "" "pipes"
out=$(cd "$T/badio" && RT run "s$$-badio" </dev/null 2>&1)
check "com.funk.io=pipes: refused" 1 $?
contains "com.funk.io=pipes: says why" "not stdio or fn" "$out"

# ---- classic-watchdog mode: fprocess in the environment -> HTTP, a guest per request ----
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bundle "$T/http" '["fwatchdog"]' "\"fprocess=wc -w\",\"port=$port\",\"exec_timeout=5s\""
(cd "$T/http" && exec "$RUNTIME" --root "$ROOT" run "s$$-http" >"$T/http.out" 2>"$T/http.err") &
SRV=$!
up=0
for _ in $(seq 200); do
    curl -sf -m 2 "http://127.0.0.1:$port/_/health" >/dev/null && { up=1; break; }
    kill -0 "$SRV" 2>/dev/null || break
    sleep 0.05
done
check "watchdog mode: the container serves HTTP" 1 "$up"
curl -s -m 10 --data-binary @"$T/input" -o "$T/got" "http://127.0.0.1:$port/"
/bin/busybox wc -w <"$T/input" >"$T/want"
if cmp -s "$T/want" "$T/got"; then ok "watchdog mode: wc -w over HTTP byte-identical to native"; else
    fail "watchdog mode: wc -w over HTTP differs from native"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 --data-binary @"$T/input" "http://127.0.0.1:$port/")
check "watchdog mode: exit 0 -> 200" 200 "$code"
RT kill "s$$-http" TERM
wait "$SRV"
SRV=
bundle "$T/http2" '["fwatchdog"]' "\"fprocess=env\",\"port=$port\""
(cd "$T/http2" && exec "$RUNTIME" --root "$ROOT" run "s$$-http2" >/dev/null 2>"$T/http2.err") &
SRV=$!
for _ in $(seq 200); do curl -sf -m 2 "http://127.0.0.1:$port/_/health" >/dev/null && break; sleep 0.05; done
env_out=$(curl -s -m 10 -H 'X-Custom-Thing: v1' -d 'abc' "http://127.0.0.1:$port/some/path?x=1")
for v in Http_Method=POST Http_Path=/some/path Http_Query=x=1 Http_X_Custom_Thing=v1 \
    Http_Content_Length=3 GREETING=hi-from-env; do
    contains "watchdog mode: $v" "$v" "$env_out"
done
RT kill "s$$-http2" TERM
wait "$SRV"
SRV=
bundle "$T/http3" '["fwatchdog"]' "\"fprocess=false\",\"port=$port\""
(cd "$T/http3" && exec "$RUNTIME" --root "$ROOT" run "s$$-http3" >/dev/null 2>"$T/http3.err") &
SRV=$!
for _ in $(seq 200); do curl -sf -m 2 "http://127.0.0.1:$port/_/health" >/dev/null && break; sleep 0.05; done
code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -d x "http://127.0.0.1:$port/")
check "watchdog mode: exit 1 -> 500" 500 "$code"
RT kill "s$$-http3" TERM
wait "$SRV"
SRV=

# ---- podman: an image imported from a rootfs tar, run with the annotation ----
{
    podman_setup
    tar -C "$R" -cf "$T/rootfs.tar" .
    podman import -q --change 'CMD ["/bin/busybox","wc","-w"]' "$T/rootfs.tar" funk-test-stdio >/dev/null
    check "podman import of the busybox rootfs" 0 $?
    for a in "wc -w" "sha256sum" "sort" "base64"; do
        # shellcheck disable=SC2086
        $PODMAN_RUN --rm -i --annotation com.funk.io=stdio funk-test-stdio /bin/busybox $a <"$T/input" >"$T/got" 2>"$T/err"
        checkrc "podman: $a exits 0" 0 $? "$T/err"
        # shellcheck disable=SC2086
        /bin/busybox $a <"$T/input" >"$T/want"
        if cmp -s "$T/want" "$T/got"; then ok "podman: $a byte-identical to native"; else
            fail "podman: $a differs from native"; diff "$T/want" "$T/got" | head -5; fi
    done
    # the image's CMD (podman import --change) is the program when none is given
    got=$($PODMAN_RUN --rm -i --annotation com.funk.io=stdio funk-test-stdio <"$T/input" 2>"$T/err")
    checkrc "podman: the image's CMD runs" "$(/bin/busybox wc -w <"$T/input")" "$got" "$T/err"
    $PODMAN_RUN --rm -i --annotation com.funk.io=stdio funk-test-stdio /bin/busybox cat /nonexistent \
        </dev/null >"$T/got" 2>"$T/err"
    check "podman: a failing program's status" 1 $?
    contains "podman: the program's stderr is the container's" "nonexistent" "$(cat "$T/err")"
    check "podman: nothing on stdout" "" "$(cat "$T/got")"
    $PODMAN_RUN --rm -i --annotation com.funk.io=stdio funk-test-stdio /bin/busybox false </dev/null 2>"$T/err"
    checkrc "podman: the program's exit status" 1 $? "$T/err"
    # containerd: the same image, saved as an OCI archive and imported
    {
        podman save -q --format oci-archive -o "$T/stdio.tar" funk-test-stdio
        D=$T/ctrd
        mkdir -p "$D"
        NS=funk-stdio-$$
        cat >"$D/config.toml" <<EOC
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$D/c.sock"
[ttrpc]
  address = "$D/c-ttrpc.sock"
EOC
        containerd --config "$D/config.toml" >"$D/log" 2>&1 &
        echo $! >"$D/pid"
        for _ in $(seq 100); do [ -S "$D/c.sock" ] && break; sleep 0.1; done
        CTR="timeout 60 ctr -a $D/c.sock -n $NS"
        $CTR images import "$T/stdio.tar" >/dev/null 2>"$T/err" || { fail "ctr images import"; show_err "$T/err"; }
        img=$($CTR images ls -q | grep funk-test-stdio | head -1)
        # ctr run never closes the container's stdin: the function is served over HTTP instead
        # (the classic-watchdog mode, fprocess from the environment, host network)
        RUN="$CTR run --runtime io.containerd.runc.v2 --runc-binary $(realpath "$RUNTIME") --runc-root $D/runc"
        $RUN -d --net-host --annotation com.funk.io=stdio --env "fprocess=wc -w" --env "port=$port" \
            "$img" "c$$-wc" fwatchdog >/dev/null 2>"$T/err"
        checkrc "containerd: ctr run -d of the stdio image" 0 $? "$T/err"
        up=0
        for _ in $(seq 200); do curl -sf -m 2 "http://127.0.0.1:$port/_/health" >/dev/null && { up=1; break; }; sleep 0.05; done
        check "containerd: the container serves HTTP" 1 "$up"
        curl -s -m 10 --data-binary @"$T/input" -o "$T/got" "http://127.0.0.1:$port/"
        /bin/busybox wc -w <"$T/input" >"$T/want"
        if cmp -s "$T/want" "$T/got"; then ok "containerd: wc -w over HTTP byte-identical to native"; else
            fail "containerd: wc -w over HTTP differs from native"; fi
        $CTR task kill -s SIGTERM "c$$-wc" 2>"$T/err" || { fail "ctr task kill"; show_err "$T/err"; }
        for _ in $(seq 100); do $CTR task ls 2>/dev/null | grep -q "c$$-wc.*RUNNING" || break; sleep 0.1; done
        $CTR task rm -f "c$$-wc" >/dev/null 2>&1
        $CTR container rm "c$$-wc" 2>"$T/err"
        checkrc "containerd: the container is removed" 0 $? "$T/err"
        grep " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
    }
}
finish
