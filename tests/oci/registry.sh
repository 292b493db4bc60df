#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The image funk-image pushes to a registry runs under container engines too: docker-registry
# on a free loopback port (own storage; never the Debian package's systemd service), funk-image
# push, then (argument) podman: podman pull --tls-verify=false + podman run --runtime
# funk-runtime; containerd: a private containerd, ctr images pull --plain-http + ctr run with
# funk-runtime as the runc binary.
set -u
. "$(dirname "$0")/lib.sh"
ENGINE=${1:-podman}
need_root
need_bin "$RUNTIME" "$IMAGE" "$ECHO" "$HELLO" "$MONITOR"
need_cmd docker-registry python3 curl
need_kvm
case $ENGINE in
podman) podman_setup ;;
containerd) need_cmd containerd ctr runc ;;
*) echo "usage: registry.sh podman|containerd"; exit 2 ;;
esac
T=$(mktemp -d /tmp/funk-oci-reg.XXXXXX)
REGPID=
cleanup() {
    [ -n "$REGPID" ] && kill "$REGPID" 2>/dev/null && wait "$REGPID" 2>/dev/null
    if [ -f "$T/ctrd.pid" ]; then
        pid=$(cat "$T/ctrd.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    fi
    grep " $T/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
    [ "$ENGINE" = podman ] && podman_cleanup
    rm -rf "$T"
}
trap cleanup EXIT

# a free port from the kernel; started again on a new one when another process took it first
for attempt in 1 2 3 4 5; do
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$T/registry.yml" <<EOC
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $T/storage
http:
  addr: 127.0.0.1:$PORT
EOC
    docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
    REGPID=$!
    up=0
    for _ in $(seq 400); do
        kill -0 "$REGPID" 2>/dev/null || break
        curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && { up=1; break; }
        sleep 0.05
    done
    [ $up = 1 ] && break
    kill "$REGPID" 2>/dev/null; wait "$REGPID" 2>/dev/null; REGPID=
    grep -q "address already in use" "$T/registry.log" || { cat "$T/registry.log"; fail "docker-registry did not start"; finish; }
done
[ -n "$REGPID" ] || { fail "no free port for docker-registry"; finish; }
REF=localhost:$PORT/funk-test/echo:reg

"$IMAGE" build "$ECHO" -t funk-test-echo --mode fn -o "$T/layout" >/dev/null 2>"$T/err"
checkrc "funk-image build" 0 $? "$T/err"
digest=$("$IMAGE" push "$T/layout" "$REF" 2>"$T/err")
checkrc "funk-image push to the registry" 0 $? "$T/err"

if [ "$ENGINE" = containerd ]; then
    # hello (console output, no stdin needed) through a private containerd
    HREF=localhost:$PORT/funk-test/hello:reg
    "$IMAGE" build "$HELLO" -t funk-test-hello -o "$T/hlayout" >/dev/null 2>"$T/err" &&
        hdigest=$("$IMAGE" push "$T/hlayout" "$HREF" 2>"$T/err")
    checkrc "funk-image push of hello" 0 $? "$T/err"
    NS=funk-reg-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
    cat >"$T/ctrd.toml" <<EOC
version = 2
root = "$T/ctrd-root"
state = "$T/ctrd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c-ttrpc.sock"
EOC
    containerd --config "$T/ctrd.toml" >"$T/ctrd.log" 2>&1 &
    echo $! >"$T/ctrd.pid"
    for _ in $(seq 100); do [ -S "$T/c.sock" ] && break; sleep 0.1; done
    [ -S "$T/c.sock" ] || { tail "$T/ctrd.log"; skip "the private containerd did not start"; }
    CTR="timeout 60 ctr -a $T/c.sock -n $NS"
    $CTR images pull --plain-http "$HREF" >/dev/null 2>"$T/err"
    checkrc "ctr images pull --plain-http of the pushed image" 0 $? "$T/err"
    check "containerd has the pushed digest" "$hdigest" "$($CTR images ls | awk -v r="$HREF" '$1 == r {print $3}')"
    out=$($CTR run --runtime io.containerd.runc.v2 --runc-binary "$(realpath "$RUNTIME")" \
        --runc-root "$T/runc" --rm "$HREF" "reg$$" </dev/null 2>"$T/err")
    checkrc "ctr run of the pulled image through funk-runtime" 0 $? "$T/err"
    check "its output" "Hello from a funk unikernel!" "$out"
    finish
fi

podman pull -q --tls-verify=false "$REF" >/dev/null 2>"$T/err"
checkrc "podman pull --tls-verify=false of the pushed image" 0 $? "$T/err"
check "podman sees the pushed digest" "$digest" "$(podman image inspect -f '{{.Digest}}' "$REF" 2>/dev/null)"
out=$(echo "through the registry" | $PODMAN_RUN --rm -i "$REF" 2>"$T/err")
checkrc "podman run --runtime funk-runtime of the pulled image" 0 $? "$T/err"
check "its output" "through the registry" "$out"

# The other way: podman pushes (gzip layers) and funkd deploys it by reference.
FUNKD=$B/gateway/funkd
if [ -x "$FUNKD" ]; then
    PREF=localhost:$PORT/funk-test/echo:from-podman
    podman push -q --tls-verify=false "$REF" "$PREF" >/dev/null 2>"$T/err"
    checkrc "podman push to the registry" 0 $? "$T/err"
    for attempt in 1 2 3 4 5; do
        GPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "$FUNKD" --listen "127.0.0.1:$GPORT" --state-dir "$T/funkd" >"$T/funkd.log" 2>&1 &
        FPID=$!
        up=0
        for _ in $(seq 400); do
            kill -0 "$FPID" 2>/dev/null || break
            curl -fs "http://127.0.0.1:$GPORT/healthz" >/dev/null && { up=1; break; }
            sleep 0.05
        done
        [ $up = 1 ] && break
        wait "$FPID" 2>/dev/null
        grep -q "in use" "$T/funkd.log" || break
    done
    if [ $up = 1 ]; then
        code=$(curl -s -o "$T/dep.out" -w '%{http_code}' -X POST "http://127.0.0.1:$GPORT/system/functions" \
            -d "{\"service\":\"frompodman\",\"image\":\"$PREF\"}")
        check "funkd deploys the image podman pushed (gzip layers)" 202 "$code"
        [ "$code" = 202 ] || cat "$T/dep.out"
        out=$(curl -s -d "pushed by podman" "http://127.0.0.1:$GPORT/function/frompodman")
        check "and runs it" "pushed by podman" "$out"
        kill "$FPID" 2>/dev/null
        wait "$FPID" 2>/dev/null
    else
        cat "$T/funkd.log"
        fail "funkd did not start"
    fi
else
    fail "$FUNKD is not built"
fi
finish
